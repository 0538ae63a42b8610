// Elementwise kernels of the harness's CUDA backend, compiled by NVRTC at
// first use (see nvrtc.go). One thread per element; no atomics, so every
// result is deterministic. Each kernel's CPU twin is in kernels_test.go.

extern "C" __global__ void add_f32(int n, const float* a, const float* b, float* out) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}

extern "C" __global__ void relu_f32(int n, const float* x, float* y) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// dx += dy where x > 0 (the backward accumulates, as the CPU engine's ops do).
extern "C" __global__ void relu_bwd_f32(int n, const float* x, const float* dy, float* dx) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && x[i] > 0.0f) dx[i] += dy[i];
}

// w *= m: the mask applied after every optimiser step.
extern "C" __global__ void mask_apply_f32(int n, float* w, const float* m) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) w[i] *= m[i];
}

// SGD with momentum, weight decay and optional Nesterov, PyTorch semantics
// (dampening 0): g' = g + wd*w; buf = mom*buf + g'; w -= lr*(nesterov ? g' + mom*buf : buf).
// buf starts at zero, which equals PyTorch's buf = g' on the first step.
extern "C" __global__ void sgd_f32(int n, float* w, const float* g, float* buf,
                                   float lr, float mom, float wd, int nesterov) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i] + wd * w[i];
    float b = mom * buf[i] + gi;
    buf[i] = b;
    w[i] -= lr * (nesterov ? gi + mom * b : b);
}
