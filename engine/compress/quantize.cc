#include "engine/compress/quantize.h"

#include <cstring>

#include "engine/backends/host.h"
#include "engine/core/error.h"
#include "engine/core/mmap_file.h"

namespace sb::compress {

std::vector<float> to_f32(GgmlType t, const void* data, int64_t rows, int64_t cols) {
  std::vector<float> out(size_t(rows * cols));
  const size_t rb = size_t(ggml_row_bytes(t, cols));
  const uint8_t* p = static_cast<const uint8_t*>(data);
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t, p + size_t(r) * rb, out.data() + r * cols, cols);
  return out;
}

bool fits_type(GgmlType t, int64_t cols) { return cols % ggml_block_size(t) == 0; }

std::vector<uint8_t> from_f32(GgmlType t, const float* w, int64_t rows, int64_t cols) {
  if (!fits_type(t, cols))
    fail("cannot store rows of ", cols, " values as ", ggml_type_name(uint32_t(t)), " (blocks of ", ggml_block_size(t), ")");
  const size_t rb = size_t(ggml_row_bytes(t, cols));
  std::vector<uint8_t> out(rb * size_t(rows));
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, w + r * cols, out.data() + size_t(r) * rb, cols);
  return out;
}

Int8Matrix quantize_int8(const float* w, int64_t rows, int64_t cols) {
  Int8Matrix m;
  m.q.resize(size_t(rows * cols));
  m.scales.resize(size_t(rows));
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) m.scales[size_t(r)] = quantize_row_s8(w + r * cols, m.q.data() + r * cols, cols);
  return m;
}

WeightTransform int8_transform(bool release_file_pages) {
  return [release_file_pages](const WeightSource& src, std::vector<std::shared_ptr<void>>& keep) {
    if (src.format != WeightFormat::Ggml) return src;
    const int64_t rows = src.rows, cols = src.cols;
    std::shared_ptr<void> q = host_alloc(size_t(rows * cols)), sc = host_alloc(size_t(rows) * sizeof(float));
    int8_t* qp = static_cast<int8_t*>(q.get());
    float* sp = static_cast<float*>(sc.get());
    const size_t rb = size_t(ggml_row_bytes(src.type, cols));
    const uint8_t* in = static_cast<const uint8_t*>(src.data);
#pragma omp parallel if (rows * cols > 65536)
    {
      std::vector<float> row(static_cast<size_t>(cols));
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        dequantize_row(src.type, in + size_t(r) * rb, row.data(), cols);
        sp[r] = quantize_row_s8(row.data(), qp + r * cols, cols);
      }
    }
    if (release_file_pages) sb::release_file_pages(in, rb * size_t(rows));
    keep.push_back(q);
    keep.push_back(sc);
    WeightSource out = src;
    out.format = WeightFormat::Int8PerChannel;
    out.file_pages = false;  // the data now lives in `keep`
    out.data = qp;
    out.scales = sp;
    return out;
  };
}

}  // namespace sb::compress
