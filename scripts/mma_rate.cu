// Tensor-core rate of the warp-level MMAs the kernels use, on the GPU at hand: the ceiling of SM120 mode on Hopper.
//
// SM120 has FP8 mma.sync (m16n8k32 e4m3) in hardware; Hopper accepts the PTX but ptxas emulates it (F2FP
// conversions of both fragments to f16, then two HMMA.16816). This times FP8 mma.sync with a new B fragment every
// MMA (streamed keys; A, the query, changes every 8 MMAs) and with new A and B every MMA, against f16 mma.sync
// (m16n8k16, what the SM80 byte path feeds after decoding). Operands are advanced by an integer add, so ptxas cannot
// hoist their conversions out of the loop. Dense FLOPs (2 * M * N * K per MMA) over all SMs, fp32 accumulators,
// 8 independent chains per warp.
//   nvcc -O3 -arch=sm_90a -o /tmp/mma_rate scripts/mma_rate.cu && /tmp/mma_rate      (or -arch=sm_120a on SM120)
#include <cstdio>
#include <cuda_runtime.h>

constexpr int CHAINS = 8;

enum Mode { F16 = 0, FP8_B_STREAMED = 1, FP8_BOTH_STREAMED = 2 };

template <int MODE>
__global__ void mma_loop(float* out, int iters, unsigned seed) {
  unsigned a[4], b[2];
  for (int i = 0; i < 4; ++i) a[i] = seed * (threadIdx.x + 7 * i + 1) & 0x3B3B3B3B;  // small finite values
  for (int i = 0; i < 2; ++i) b[i] = seed * (threadIdx.x + 5 * i + 3) & 0x3B3B3B3B;
  float c[CHAINS][4] = {};
  for (int it = 0; it < iters; ++it) {
#pragma unroll
    for (int j = 0; j < CHAINS; ++j) {
      b[j & 1] += 0x01030507u;  // a new B fragment per MMA
      if (MODE == FP8_BOTH_STREAMED) a[j & 3] += 0x02040608u;
      if (MODE != F16) {
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[j][0]), "+f"(c[j][1]), "+f"(c[j][2]), "+f"(c[j][3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
      } else {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[j][0]), "+f"(c[j][1]), "+f"(c[j][2]), "+f"(c[j][3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
      }
    }
    a[it & 3] += 0x02040608u;  // and a new A fragment every CHAINS MMAs at least
  }
  float s = 0.f;
  for (int j = 0; j < CHAINS; ++j) s += c[j][0] + c[j][1] + c[j][2] + c[j][3];
  out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

template <int MODE>
double tflops(int sms, float* out) {
  const int blocks = sms * 4, threads = 256, iters = 2048;
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  mma_loop<MODE><<<blocks, threads>>>(out, 16, 3);  // warm up
  float best = 1e30f;
  for (int rep = 0; rep < 5; ++rep) {
    cudaEventRecord(start);
    mma_loop<MODE><<<blocks, threads>>>(out, iters, 3 + rep);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0.f;
    cudaEventElapsedTime(&ms, start, stop);
    best = ms < best ? ms : best;
  }
  const double flops_per_mma = 2.0 * 16 * 8 * (MODE != F16 ? 32 : 16);
  const double mmas = double(blocks) * (threads / 32) * iters * CHAINS;
  return mmas * flops_per_mma / (best * 1e-3) / 1e12;
}

int main() {
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  float* out;
  cudaMalloc(&out, sizeof(float) * prop.multiProcessorCount * 4 * 256);
  const double fp8_b = tflops<FP8_B_STREAMED>(prop.multiProcessorCount, out);
  const double fp8_ab = tflops<FP8_BOTH_STREAMED>(prop.multiProcessorCount, out);
  const double f16 = tflops<F16>(prop.multiProcessorCount, out);
  printf("%s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  printf("mma.sync m16n8k32 e4m3 -> f32, new B per MMA:     %7.1f dense TFLOPS\n", fp8_b);
  printf("mma.sync m16n8k32 e4m3 -> f32, new A, B per MMA:  %7.1f dense TFLOPS\n", fp8_ab);
  printf("mma.sync m16n8k16 f16  -> f32, new B per MMA:     %7.1f dense TFLOPS\n", f16);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    printf("CUDA error: %s\n", cudaGetErrorString(err));
    return 1;
  }
  return 0;
}
