// madvise() over the whole pages inside a byte range of a mapped model file: the hints the
// loader gives for tables read a row at a time (docs/PERFORMANCE.md "Google's mobile schema").
#pragma once

#include <cstdint>

namespace gemmad::runtime {

// MADV_RANDOM over the whole pages inside [data, data + n): no fault-around or readahead, so a
// row read maps only its own pages.
void advise_random_pages(const void* data, uint64_t n);

// MADV_DONTNEED over the whole pages inside [data, data + n) of a read-only file mapping: the
// process stops mapping them (they leave its RSS and stay in the page cache); the next read
// faults them back in with the same bytes. For data checked once at load and then read a row
// at a time.
void release_pages(const void* data, uint64_t n);

}  // namespace gemmad::runtime
