# CUDA backend build, included by the top-level CMakeLists.txt when CORENN_CUDA is ON (or AUTO and
# nvcc was found). The .cu kernels compile into the same _C extension as the CPU code:
#   - architectures: CMAKE_CUDA_ARCHITECTURES, default SASS for sm_80 (A100) and sm_90 (H100) plus
#     compute_90 PTX so newer GPUs JIT-compile it; override with -DCMAKE_CUDA_ARCHITECTURES=...
#     (or -Ccmake.define.CMAKE_CUDA_ARCHITECTURES=native through pip).
#   - the CUDA runtime is linked statically (CUDA::cudart_static): importing corenn on a machine
#     without the NVIDIA driver then works; corenn.cuda.is_available() is simply False there.
#   - CORENN_WITH_CUDA=1 is defined for every source of _C, so op entries (csrc/ops) can dispatch
#     to the cuda:: kernels declared in csrc/cuda/*.h.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90-real;90-virtual")
endif()
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

file(GLOB CORENN_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cu)
target_sources(_C PRIVATE ${CORENN_CUDA_SOURCES})
# _C was created before enable_language(CUDA), so its CUDA properties were not initialised from
# the CMAKE_CUDA_* variables: set them on the target.
set_target_properties(_C PROPERTIES CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}"
                                    CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON
                                    CUDA_RUNTIME_LIBRARY Static)
target_link_libraries(_C PRIVATE CUDA::cudart_static)
target_compile_definitions(_C PRIVATE CORENN_WITH_CUDA=1)
# The parent's target options (-Wall -Wextra -fno-math-errno ...) are GCC flags nvcc rejects: keep
# them for C++ sources only.
get_target_property(_corenn_cxx_opts _C COMPILE_OPTIONS)
if(_corenn_cxx_opts)
  set(_corenn_guarded "")
  foreach(_opt IN LISTS _corenn_cxx_opts)
    list(APPEND _corenn_guarded "$<$<COMPILE_LANGUAGE:CXX>:${_opt}>")
  endforeach()
  set_property(TARGET _C PROPERTY COMPILE_OPTIONS "${_corenn_guarded}")
endif()
# The C++ flags of the parent (-Wall -O3 ...) are set for CXX only; give nvcc its own. Kernels are
# float32-exact by default: no --use_fast_math (it flushes denormals and uses approximate exp/div).
target_compile_options(_C PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-O3 --expt-relaxed-constexpr -Xcompiler=-fPIC -lineinfo>)
message(STATUS "corenn: CUDA ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
