// CPU stand-ins for the CUDA built-ins the harness's kernels use, so that
// kernels.cu and nn.cu compile with g++ and run on the CPU (emu.cpp): a
// block's threads are fibers (ucontext) that run in turn between
// __syncthreads calls. Test tooling only.
#include <cmath>
#include <cstdint>
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
struct dim3_ {
    int x, y, z;
};
extern dim3_ blockIdx, threadIdx, blockDim;
void __syncthreads();
using std::exp;
using std::log;
using std::sqrt;
