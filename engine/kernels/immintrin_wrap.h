// <immintrin.h> for the x86 kernel files. GCC 12's AVX-512 headers build "undefined" vectors
// by self-initialisation (`__m512 __Y = __Y;`), which -Wuninitialized / -Wmaybe-uninitialized
// report inside our functions once inlined; the warnings are silenced for the header's lines
// only, so our own code keeps them. Clang does not warn there (and lacks the second flag).
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
