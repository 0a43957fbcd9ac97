# Warnings as errors for Shoal's own code; third-party headers come in as SYSTEM.
add_compile_options(-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                    -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                    -Wimplicit-fallthrough)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 false positive on Asio's awaitable frame allocator
  add_compile_options(-Wno-mismatched-new-delete)
endif()
if(SHOAL_WERROR)
  add_compile_options(-Werror)
endif()
if(SHOAL_SANITIZE)
  # The sanitizers' instrumentation makes g++ 12 report maybe-uninitialized inside
  # Boost and libstdc++ headers; the plain build keeps that warning.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined -Wno-maybe-uninitialized)
  add_link_options(-fsanitize=address,undefined)
endif()
