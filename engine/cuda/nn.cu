// Layer kernels of the harness's CUDA backend (a ResNet training step):
// convolution's im2col and col2im, batch norm, pooling, softmax
// cross-entropy, bias, ReLU mask and layout swap. Compiled by NVRTC with
// --fmad=false. Deterministic: no atomics; every sum runs in one fixed order
// (a thread's own loop, then a fixed-shape tree in shared memory), so a
// repeat on one device is bit-identical. The Go twins of the index maps are
// in twins.go.
//
// Activation addressing: element (n, c, s) of an activation with N images,
// C channels and S = H*W positions lives at n*sN + c*sC + s. NCHW has
// sN = C*S, sC = S; CNHW (what the network keeps, so that a convolution's
// GEMM output needs no transpose) has sN = S, sC = N*S.

#define BN_THREADS 512
#define BN_UNROLL 8 // loads in flight per thread in the batch-norm loops
#define CE_THREADS 256

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int imax(int a, int b) { return a > b ? a : b; }

// im2col: col [C*KH*KW, N*OH*OW], row (c,kh,kw), column (n,oh,ow) holds
// x[n, c, oh*SH-PH+kh, ow*SW-PW+kw], or 0 in the padding. total = rows*cols.
extern "C" __global__ void im2col_f32(int total, const float* x, float* col,
                                      int N, int C, int H, int W, int KH, int KW,
                                      int SH, int SW, int PH, int PW, int OH, int OW,
                                      int sN, int sC) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int P = OH * OW, NP = N * P;
    int r = i / NP, j = i - r * NP;
    int n = j / P, p = j - n * P;
    int oh = p / OW, ow = p - oh * OW;
    int kk = KH * KW;
    int c = r / kk, q = r - c * kk;
    int kh = q / KW, kw = q - kh * KW;
    int ih = oh * SH - PH + kh, iw = ow * SW - PW + kw;
    float v = 0.0f;
    if (ih >= 0 && ih < H && iw >= 0 && iw < W) v = x[n * sN + c * sC + ih * W + iw];
    col[i] = v;
}

// col2im as a gather (the adjoint of im2col, no atomics): one thread per input
// element (c, n, ih, iw), total = C*N*H*W, summing the col entries read from
// it in (kh, kw) order. accumulate != 0 adds the sum to x, else overwrites.
extern "C" __global__ void col2im_f32(int total, const float* col, float* x,
                                      int N, int C, int H, int W, int KH, int KW,
                                      int SH, int SW, int PH, int PW, int OH, int OW,
                                      int sN, int sC, int accumulate) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int HW = H * W;
    int cn = i / HW, s = i - cn * HW;
    int c = cn / N, n = cn - c * N;
    int ih = s / W, iw = s - ih * W;
    int P = OH * OW, NP = N * P;
    const float* cc = col + (c * KH * KW) * NP + n * P;
    float sum = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        int th = ih + PH - kh; // = oh*SH when (ih, kh) is read by output row oh
        if (th < 0 || th % SH != 0) continue;
        int oh = th / SH;
        if (oh >= OH) continue;
        for (int kw = 0; kw < KW; kw++) {
            int tw = iw + PW - kw;
            if (tw < 0 || tw % SW != 0) continue;
            int ow = tw / SW;
            if (ow >= OW) continue;
            sum += cc[(kh * KW + kw) * NP + oh * OW + ow];
        }
    }
    int a = n * sN + c * sC + s;
    x[a] = accumulate ? x[a] + sum : sum;
}

// bn_idx is the offset of element i of a channel (see the layout note above).
__device__ __forceinline__ int bn_idx(int i, bool flat, int S, int sN) {
    return flat ? i : (i / S) * sN + i % S;
}

// block_sum adds v over the block in a fixed tree (blockDim.x = BN_THREADS or
// CE_THREADS, a power of two, no larger than sh); every thread gets the sum.
__device__ double block_sum(double v, double* sh) {
    int t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) sh[t] += sh[t + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

__device__ double block_max(double v, double* sh) {
    int t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s && sh[t + s] > sh[t]) sh[t] = sh[t + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

// Batch norm, training forward: one block of BN_THREADS per channel (grid =
// C). One pass sums d = x - k and d*d in float64 with k = the channel's first
// element (the CPU engine's shift, so E[d^2] - E[d]^2 has no cancellation at
// float32 inputs), then y = x*a + b with a = gamma/sqrt(var+eps), b = beta -
// mean*a (float32, as the CPU engine); saves mean and 1/sqrt(var+eps) for
// the backward and updates the running statistics with PyTorch's rule
// (unbiased variance, momentum). When sN == S (CNHW: the channel is
// contiguous) element i of the channel is at offset i.
extern "C" __global__ void bn_fwd_train_f32(const float* x, float* y, const float* gamma, const float* beta,
                                            float* save_mean, float* save_invstd, float* run_mean, float* run_var,
                                            int N, int C, int S, int sN, int sC, float eps, float momentum) {
    __shared__ double sh[BN_THREADS];
    int c = blockIdx.x;
    if (c >= C) return;
    int M = N * S;
    bool flat = sN == S;
    const float* xc = x + c * sC;
    float* yc = y + c * sC;
    double k = (double)xc[0];
    double s1 = 0.0, s2 = 0.0;
    // Each thread visits i = t, t+T, t+2T, ... in order; BN_UNROLL loads are
    // issued before they are added, for memory-level parallelism.
    int T = blockDim.x;
    for (int i0 = threadIdx.x; i0 < M; i0 += BN_UNROLL * T) {
        float v[BN_UNROLL];
#pragma unroll
        for (int u = 0; u < BN_UNROLL; u++) {
            int i = i0 + u * T;
            v[u] = i < M ? xc[bn_idx(i, flat, S, sN)] : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < BN_UNROLL; u++) {
            if (i0 + u * T < M) {
                double d = (double)v[u] - k;
                s1 += d;
                s2 += d * d;
            }
        }
    }
    double sd = block_sum(s1, sh);
    double ss = block_sum(s2, sh);
    double dm = sd / (double)M;
    double mean = k + dm;
    ss = ss - sd * dm; // sum of (x - mean)^2
    if (!(ss > 0.0)) ss = 0.0;
    double var = ss / (double)M;
    double is = 1.0 / sqrt(var + (double)eps);
    if (threadIdx.x == 0) {
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)is;
        double mom = (double)momentum;
        double unb = M > 1 ? ss / (double)(M - 1) : var;
        run_mean[c] = (float)((1.0 - mom) * (double)run_mean[c] + mom * mean);
        run_var[c] = (float)((1.0 - mom) * (double)run_var[c] + mom * unb);
    }
    double ad = is * (double)gamma[c];
    float a = (float)ad;
    float b = (float)(-mean * ad + (double)beta[c]);
    for (int i0 = threadIdx.x; i0 < M; i0 += BN_UNROLL * T) {
        float v[BN_UNROLL];
#pragma unroll
        for (int u = 0; u < BN_UNROLL; u++) {
            int i = i0 + u * T;
            v[u] = i < M ? xc[bn_idx(i, flat, S, sN)] : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < BN_UNROLL; u++) {
            int i = i0 + u * T;
            if (i < M) yc[bn_idx(i, flat, S, sN)] = v[u] * a + b;
        }
    }
}

// Batch norm, training backward: one block per channel. Sums of dy and
// dy*(x-mean) in float64; dgamma = sum(dy*xhat), dbeta = sum(dy) (both
// overwritten); dx = a*dy + b*x + c0 (the CPU engine's form), overwritten.
// dx may be dy itself (each element is read before it is written by the same
// thread, after both sums).
extern "C" __global__ void bn_bwd_f32(const float* x, const float* dy, const float* gamma,
                                      const float* save_mean, const float* save_invstd,
                                      float* dx, float* dgamma, float* dbeta,
                                      int N, int C, int S, int sN, int sC) {
    __shared__ double sh[BN_THREADS];
    int c = blockIdx.x;
    if (c >= C) return;
    int M = N * S;
    const float* xc = x + c * sC;
    const float* dyc = dy + c * sC;
    float* dxc = dx + c * sC;
    double mu = (double)save_mean[c], is = (double)save_invstd[c];
    bool flat = sN == S;
    double s1 = 0.0, s2 = 0.0;
    int T = blockDim.x;
    for (int i0 = threadIdx.x; i0 < M; i0 += BN_UNROLL * T) {
        float gv[BN_UNROLL], xv[BN_UNROLL];
#pragma unroll
        for (int u = 0; u < BN_UNROLL; u++) {
            int i = i0 + u * T;
            int k = bn_idx(i < M ? i : 0, flat, S, sN);
            gv[u] = i < M ? dyc[k] : 0.0f;
            xv[u] = i < M ? xc[k] : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < BN_UNROLL; u++) {
            if (i0 + u * T < M) {
                double g = (double)gv[u];
                s1 += g;
                s2 += g * ((double)xv[u] - mu);
            }
        }
    }
    double sdy = block_sum(s1, sh);
    double sdxm = block_sum(s2, sh);
    double sdyx = sdxm * is;
    if (threadIdx.x == 0) {
        dgamma[c] = (float)sdyx;
        dbeta[c] = (float)sdy;
    }
    double a = is * (double)gamma[c];
    double k1 = sdy / (double)M, k2 = sdyx / (double)M;
    float fa = (float)a, fb = (float)(-a * is * k2), fc = (float)(a * (mu * is * k2 - k1));
    for (int i0 = threadIdx.x; i0 < M; i0 += BN_UNROLL * T) {
        float gv[BN_UNROLL], xv[BN_UNROLL];
#pragma unroll
        for (int u = 0; u < BN_UNROLL; u++) {
            int i = i0 + u * T;
            int k = bn_idx(i < M ? i : 0, flat, S, sN);
            gv[u] = i < M ? dyc[k] : 0.0f;
            xv[u] = i < M ? xc[k] : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < BN_UNROLL; u++) {
            int i = i0 + u * T;
            if (i < M) dxc[bn_idx(i, flat, S, sN)] = fa * gv[u] + fb * xv[u] + fc;
        }
    }
}

// dy = y > 0 ? dy : 0, in place: the ReLU backward when y = relu(x) is kept.
extern "C" __global__ void relu_mask_f32(int n, const float* y, float* dy) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && !(y[i] > 0.0f)) dy[i] = 0.0f;
}

// Max pool over contiguous H*W planes (any plane order): y = the first maximum
// in row-major order of the window clipped to the image (padding never wins),
// arg = its index in the plane. total = planes*OH*OW.
extern "C" __global__ void maxpool_fwd_f32(int total, const float* x, float* y, int* arg,
                                           int H, int W, int K, int S, int P, int OH, int OW) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int OP = OH * OW;
    int pl = i / OP, q = i - pl * OP;
    int oh = q / OW, ow = q - oh * OW;
    const float* xp = x + pl * (H * W);
    int h0 = oh * S - P, w0 = ow * S - P;
    int h1 = imin(h0 + K, H), w1 = imin(w0 + K, W);
    h0 = imax(h0, 0);
    w0 = imax(w0, 0);
    int best = h0 * W + w0;
    float m = xp[best];
    for (int h = h0; h < h1; h++) {
        for (int w = w0; w < w1; w++) {
            float v = xp[h * W + w];
            if (v > m) {
                m = v;
                best = h * W + w;
            }
        }
    }
    y[i] = m;
    arg[i] = best;
}

// Max pool backward as a gather: one thread per input element, total =
// planes*H*W; dx = the sum, in (oh, ow) order, of dy over the windows whose
// maximum was this element (overwritten).
extern "C" __global__ void maxpool_bwd_f32(int total, const float* dy, const int* arg, float* dx,
                                           int H, int W, int K, int S, int P, int OH, int OW) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int HW = H * W;
    int pl = i / HW, s = i - pl * HW;
    int ih = s / W, iw = s - ih * W;
    int th = ih + P - K + 1, tw = iw + P - K + 1;
    int oh0 = th <= 0 ? 0 : (th + S - 1) / S, ow0 = tw <= 0 ? 0 : (tw + S - 1) / S;
    int oh1 = imin((ih + P) / S, OH - 1), ow1 = imin((iw + P) / S, OW - 1);
    const float* dyp = dy + pl * (OH * OW);
    const int* ap = arg + pl * (OH * OW);
    float sum = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++) {
        for (int ow = ow0; ow <= ow1; ow++) {
            if (ap[oh * OW + ow] == s) sum += dyp[oh * OW + ow];
        }
    }
    dx[i] = sum;
}

// Global average pool: out [N, C] row-major, out[n*C+c] = (sum over s in
// order, float32) * (1/S), as the CPU engine. total = N*C.
extern "C" __global__ void gap_fwd_f32(int total, const float* x, float* out, int N, int C, int S, int sN, int sC) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int n = i / C, c = i - n * C;
    const float* xp = x + n * sN + c * sC;
    float s = 0.0f;
    for (int k = 0; k < S; k++) s += xp[k];
    out[i] = s * (1.0f / (float)S);
}

// Its backward: dx[n,c,s] = dy[n*C+c] * (1/S) (overwritten); total = C*N*S,
// one thread per element in (c, n, s) order.
extern "C" __global__ void gap_bwd_f32(int total, const float* dy, float* dx, int N, int C, int S, int sN, int sC) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int cn = i / S, s = i - cn * S;
    int c = cn / N, n = cn - c * N;
    dx[n * sN + c * sC + s] = dy[n * C + c] * (1.0f / (float)S);
}

// y[r, j] += b[j] over a row-major [rows, cols] matrix; total = rows*cols.
extern "C" __global__ void bias_add_f32(int total, float* y, const float* b, int cols) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < total) y[i] += b[i % cols];
}

// db[j] = sum over rows in order of dy[r, j] (overwritten); one thread per column.
extern "C" __global__ void col_sum_f32(int cols, const float* dy, float* db, int rows) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= cols) return;
    float s = 0.0f;
    for (int r = 0; r < rows; r++) s += dy[r * cols + j];
    db[j] = s;
}

// out [B, A, P] = in [A, B, P] with the first two axes swapped (NCHW <->
// CNHW with A = N, B = C, P = H*W); total = A*B*P, one thread per output.
extern "C" __global__ void swap01_f32(int total, const float* in, float* out, int A, int B, int P) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int p = i % P, t = i / P;
    int a = t % A, b = t / A;
    out[i] = in[(a * B + b) * P + p];
}

// Softmax cross-entropy over logits [N, K] with integer labels, one block of
// CE_THREADS per row (grid = N): loss_rows[r] = logsumexp - logit[label],
// dlogits = (softmax - onehot) * scale (scale = 1/N for the batch mean).
// float64 inside, as the CPU engine's default path.
extern "C" __global__ void softmax_xent_f32(const float* logits, const int* labels, float* loss_rows,
                                            float* dlogits, int N, int K, float scale) {
    __shared__ double sh[CE_THREADS];
    int r = blockIdx.x;
    if (r >= N) return;
    const float* x = logits + r * K;
    float* d = dlogits + r * K;
    double m = (double)x[0];
    for (int j = threadIdx.x; j < K; j += blockDim.x) {
        double v = (double)x[j];
        if (v > m) m = v;
    }
    m = block_max(m, sh);
    double s = 0.0;
    for (int j = threadIdx.x; j < K; j += blockDim.x) s += exp((double)x[j] - m);
    s = block_sum(s, sh);
    int lab = labels[r];
    if (threadIdx.x == 0) loss_rows[r] = (float)(m + log(s) - (double)x[lab]);
    double sc = (double)scale;
    for (int j = threadIdx.x; j < K; j += blockDim.x) {
        double p = exp((double)x[j] - m) / s;
        d[j] = (float)((p - (j == lab ? 1.0 : 0.0)) * sc);
    }
}

// out[0] = scale * (sum of v[0..n) in order, float64): the batch's mean loss.
// Launch with one thread.
extern "C" __global__ void sum_scaled_f32(int one, const float* v, float* out, int n, float scale) {
    if (blockIdx.x * blockDim.x + threadIdx.x != 0) return;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)v[i];
    out[0] = (float)(s * (double)scale);
}

// out[j] = sum over s in order of work[s*n + j], s < count (overwritten):
// the fixed-order reduction of a split-K GEMM's partial products.
extern "C" __global__ void sum_slices_f32(int n, const float* work, float* out, int count) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    float s = 0.0f;
    for (int k = 0; k < count; k++) s += work[k * n + j];
    out[j] = s;
}
