# Cross-compiling for 64-bit Arm Linux boards with Debian's toolchain: g++-aarch64-linux-gnu
# and the :arm64 libraries installed through multiarch (dpkg --add-architecture arm64), which
# live in /usr/lib/aarch64-linux-gnu and /usr/include (shared headers) on this same root.
# Tools that run during the build (protoc) stay native. Tests run under qemu-aarch64
# (CMAKE_CROSSCOMPILING_EMULATOR), which finds the arm64 loader and libraries in those paths.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(GEMMAD_CROSS_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${GEMMAD_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${GEMMAD_CROSS_TRIPLET}-g++)
set(CMAKE_AR ${GEMMAD_CROSS_TRIPLET}-ar CACHE FILEPATH "")
set(CMAKE_STRIP ${GEMMAD_CROSS_TRIPLET}-strip CACHE FILEPATH "")
set(CMAKE_LIBRARY_ARCHITECTURE ${GEMMAD_CROSS_TRIPLET})

find_program(GEMMAD_QEMU_AARCH64 qemu-aarch64)
if(GEMMAD_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${GEMMAD_QEMU_AARCH64})
endif()

# Libraries and headers from the target's multiarch directories; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/lib/${GEMMAD_CROSS_TRIPLET} /usr/${GEMMAD_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config must read the arm64 .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${GEMMAD_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
