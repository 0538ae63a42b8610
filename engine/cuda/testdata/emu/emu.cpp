// emu FN GRID BLOCK ARG...: runs one kernel of kernels.cu / nn.cu on the CPU.
// ARG is i:<int>, f:<float32 bits> or b:<file of 4-byte values> (read
// before, written back after). The argument kinds are checked against the
// kernel's parameter types, so a Go call that passes a wrong type fails.
#include "emu.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>
#include <ucontext.h>

dim3_ blockIdx, threadIdx, blockDim;

#include "../../kernels.cu"
#include "../../nn.cu"

static void die(const std::string& m) {
    fprintf(stderr, "emu: %s\n", m.c_str());
    exit(2);
}

struct Arg {
    char kind;
    int i;
    float f;
    void* p;
};

template <class T> struct conv;
template <> struct conv<int> {
    static int get(Arg& a) { if (a.kind != 'i') die("want int"); return a.i; }
};
template <> struct conv<float> {
    static float get(Arg& a) { if (a.kind != 'f') die("want float"); return a.f; }
};
template <class T> struct conv<T*> {
    static T* get(Arg& a) { if (a.kind != 'b') die("want buffer"); return (T*)a.p; }
};

template <class... P, size_t... I>
static void callImpl(void (*f)(P...), std::vector<Arg>& a, std::index_sequence<I...>) {
    f(conv<P>::get(a[I])...);
}
template <class... P>
static void call(void (*f)(P...), std::vector<Arg>& a) {
    if (a.size() != sizeof...(P)) die("argument count " + std::to_string(a.size()) + ", kernel has " + std::to_string(sizeof...(P)));
    callImpl(f, a, std::index_sequence_for<P...>{});
}

typedef void (*Runner)(std::vector<Arg>&);
#define K(name) {#name, [](std::vector<Arg>& a) { call(name, a); }}
static std::map<std::string, Runner> kernels = {
    K(add_f32), K(relu_f32), K(relu_bwd_f32), K(mask_apply_f32), K(sgd_f32),
    K(im2col_f32), K(col2im_f32), K(bn_fwd_train_f32), K(bn_bwd_f32), K(relu_mask_f32),
    K(maxpool_fwd_f32), K(maxpool_bwd_f32), K(gap_fwd_f32), K(gap_bwd_f32), K(bias_add_f32),
    K(col_sum_f32), K(swap01_f32), K(softmax_xent_f32), K(sum_scaled_f32), K(sum_slices_f32),
};

// Fibers: one per thread of the block; __syncthreads switches back to the
// scheduler, which resumes every fiber in thread order once all have arrived.
static std::vector<ucontext_t> fib;
static ucontext_t sched;
static int cur;
static std::vector<char> done;
static Runner run;
static std::vector<Arg>* args;

void __syncthreads() {
    if (fib.empty()) die("__syncthreads in a kernel run without fibers");
    swapcontext(&fib[cur], &sched);
}

static void fiberMain() {
    run(*args);
    done[cur] = 1;
    swapcontext(&fib[cur], &sched);
}

int main(int argc, char** argv) {
    if (argc < 4) die("usage: emu FN GRID BLOCK ARG...");
    std::string fn = argv[1];
    int grid = atoi(argv[2]), block = atoi(argv[3]);
    if (!kernels.count(fn)) die("no kernel " + fn);
    std::vector<Arg> a;
    std::vector<std::pair<std::string, std::vector<uint32_t>>> bufs;
    bufs.reserve(argc);
    for (int k = 4; k < argc; k++) {
        std::string s = argv[k];
        Arg x{s[0], 0, 0, nullptr};
        if (s.size() < 2 || s[1] != ':') die("bad argument " + s);
        if (x.kind == 'i') x.i = atoi(s.c_str() + 2);
        else if (x.kind == 'f') { uint32_t u = strtoul(s.c_str() + 2, nullptr, 10); memcpy(&x.f, &u, 4); }
        else if (x.kind == 'b') {
            FILE* f = fopen(s.c_str() + 2, "rb");
            if (!f) die("open " + s);
            fseek(f, 0, SEEK_END);
            long n = ftell(f) / 4;
            fseek(f, 0, SEEK_SET);
            bufs.emplace_back(s.substr(2), std::vector<uint32_t>(n + 1));
            if (fread(bufs.back().second.data(), 4, n, f) != (size_t)n) die("read " + s);
            fclose(f);
            x.p = bufs.back().second.data();
        } else die("bad argument " + s);
        a.push_back(x);
    }
    run = kernels[fn];
    args = &a;
    bool sync = fn == "bn_fwd_train_f32" || fn == "bn_bwd_f32" || fn == "softmax_xent_f32";
    blockDim = {block, 1, 1};
    for (int b = 0; b < grid; b++) {
        blockIdx = {b, 0, 0};
        if (!sync) {
            for (int t = 0; t < block; t++) {
                threadIdx = {t, 0, 0};
                run(a);
            }
            continue;
        }
        static std::vector<std::vector<char>> stacks;
        fib.assign(block, ucontext_t{});
        stacks.resize(block);
        done.assign(block, 0);
        for (int t = 0; t < block; t++) {
            stacks[t].resize(1 << 16);
            getcontext(&fib[t]);
            fib[t].uc_stack.ss_sp = stacks[t].data();
            fib[t].uc_stack.ss_size = stacks[t].size();
            fib[t].uc_link = nullptr;
            makecontext(&fib[t], fiberMain, 0);
        }
        for (;;) {
            int alive = 0;
            for (int t = 0; t < block; t++) {
                if (done[t]) continue;
                cur = t;
                threadIdx = {t, 0, 0};
                swapcontext(&sched, &fib[t]);
                alive += !done[t];
            }
            if (!alive) break;
            // A fiber that finished while others wait at a barrier would deadlock on a GPU too.
            for (int t = 0; t < block; t++)
                if (done[t]) die("threads of a block left at different barriers");
        }
    }
    for (auto& b : bufs) {
        FILE* f = fopen(b.first.c_str(), "wb");
        if (!f || fwrite(b.second.data(), 4, b.second.size() - 1, f) != b.second.size() - 1) die("write " + b.first);
        fclose(f);
    }
    return 0;
}
