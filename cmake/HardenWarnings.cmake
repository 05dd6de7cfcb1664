# harden_target_defaults(TARGET): the project's warning set, warnings as
# errors when HARDEN_WERROR is on, and the sanitizers of HARDEN_SANITIZE.
# (-Wnull-dereference is left out: at -O2 GCC 12 reports it inside inlined
# Boost.Asio code, where no system-header exemption applies.)
function(harden_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
  if(HARDEN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(HARDEN_SANITIZE)
  add_compile_options(-fsanitize=${HARDEN_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${HARDEN_SANITIZE})
endif()
