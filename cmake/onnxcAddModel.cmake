# onnxc_add_model(NAME MODEL file.onnx [EMIT object|static|shared|exe] [SYMBOL sym]
#                 [WEIGHTS embed|file] [CPU cpu] [TARGET triple] [DIMS sym=value...]
#                 [OPTIONS opt...])
#
# Compiles MODEL with onnxc during the build and gives a target called NAME:
#   EMIT object (default)  a static library holding the model's object; linking it puts
#                          the generated header (SYMBOL.h) on the include path and links
#                          onnxc::rt (its thread pool is optional: a NULL ctx runs serially)
#   EMIT static            an imported static library libSYMBOL.a + SYMBOL.h with the
#                          runtime inside (links m and Threads::Threads; no onnxc::rt)
#   EMIT shared            an imported shared library libSYMBOL.so + SYMBOL.h (the runtime
#                          is inside it)
#   EMIT exe               a target (built by default) that makes the standalone program;
#                          add_test(NAME t COMMAND $<TARGET_PROPERTY:NAME,ONNXC_OUTPUT> ...)
# SYMBOL is the prefix of the generated C names (SYMBOL_run, ...), default NAME: several
# models in one program need distinct ones. CPU and TARGET are --cpu and --triple; OPTIONS
# go to onnxc as they are (e.g. -O3, --bind x=x.pb).
# The outputs go to CMAKE_CURRENT_BINARY_DIR/onnxc/NAME/. onnxc writes a depfile (-MD), so
# editing the model, any of its external-data files, a --bind file or installing a new
# onnxc recompiles the model, and a build with nothing changed runs nothing.
# WEIGHTS file keeps the weights in SYMBOL.weights beside the output (onnxc --weights=file),
# DIMS sym=value... fixes symbolic dims (--dim). The target's ONNXC_OUTPUT property holds
# the compiled file's path, ONNXC_WEIGHTS the weights file's.
cmake_policy(PUSH)
# CMP0116 (3.20): Ninja reads the depfile's paths relative to the build folder. The
# function keeps the policies in force here, whatever the caller's minimum version.
cmake_policy(VERSION 3.20...3.28)

function(onnxc_add_model name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "MODEL;EMIT;SYMBOL;CPU;TARGET;WEIGHTS" "OPTIONS;DIMS")
  if(A_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "onnxc_add_model(${name}): unknown arguments: ${A_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT A_MODEL)
    message(FATAL_ERROR "onnxc_add_model(${name}): MODEL file.onnx is required")
  endif()
  if(NOT A_EMIT)
    set(A_EMIT object)
  endif()
  if(NOT A_SYMBOL)
    set(A_SYMBOL ${name})
  endif()
  if(NOT A_SYMBOL MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "onnxc_add_model(${name}): '${A_SYMBOL}' is not a C identifier; "
                        "give SYMBOL a valid prefix for the generated names")
  endif()
  # Absolute paths throughout: the depfile then names files the same way for make and Ninja.
  get_filename_component(model "${A_MODEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/onnxc/${name}")
  # Imported targets refuse include folders that do not exist yet.
  file(MAKE_DIRECTORY "${dir}")
  set(header "${dir}/${A_SYMBOL}.h")
  if(A_EMIT STREQUAL "object")
    set(kind obj)
    set(out "${dir}/${A_SYMBOL}.o")
    set(outputs "${out}" "${header}")
  elseif(A_EMIT STREQUAL "static")
    set(kind static)
    set(out "${dir}/lib${A_SYMBOL}.a")
    set(outputs "${out}" "${header}")
  elseif(A_EMIT STREQUAL "shared")
    set(kind so)
    set(out "${dir}/lib${A_SYMBOL}.so")
    set(outputs "${out}" "${header}")
  elseif(A_EMIT STREQUAL "exe")
    set(kind exe)
    set(out "${dir}/${A_SYMBOL}")
    set(outputs "${out}")
  else()
    message(FATAL_ERROR "onnxc_add_model(${name}): EMIT ${A_EMIT}: expected object, static, shared or exe")
  endif()
  set(args "${model}" --emit=${kind} --name ${A_SYMBOL} -o "${out}"
           -MD -MF "${dir}/${A_SYMBOL}.d" -MT "${out}")
  if(A_CPU)
    list(APPEND args --cpu ${A_CPU})
  endif()
  if(A_TARGET)
    list(APPEND args --triple ${A_TARGET})
  endif()
  if(A_WEIGHTS STREQUAL "file")
    # NAME.weights beside the output; a program maps it from beside itself, a library's
    # user passes it (see SYMBOL.h). The target's ONNXC_WEIGHTS property holds its path.
    list(APPEND args --weights=file)
    set(weights "${dir}/${A_SYMBOL}.weights")
    list(APPEND outputs "${weights}")
  elseif(A_WEIGHTS AND NOT A_WEIGHTS STREQUAL "embed")
    message(FATAL_ERROR "onnxc_add_model(${name}): WEIGHTS ${A_WEIGHTS}: expected embed or file")
  endif()
  foreach(d IN LISTS A_DIMS)
    list(APPEND args --dim ${d})
  endforeach()
  # The first build has no depfile yet; the model is always a dependency.
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND onnxc::onnxc ${args} ${A_OPTIONS}
    DEPENDS "${model}" onnxc::onnxc
    DEPFILE "${dir}/${A_SYMBOL}.d"
    COMMENT "onnxc: compiling ${A_MODEL} (${name}, --emit=${kind})"
    VERBATIM)

  if(kind STREQUAL "obj")
    # A library made of the one generated object: CMake tracks it like any source, so
    # the program relinks when the model is recompiled.
    add_library(${name} STATIC "${out}")
    set_target_properties(${name} PROPERTIES LINKER_LANGUAGE C)
    target_include_directories(${name} PUBLIC "${dir}")
    target_link_libraries(${name} PUBLIC onnxc::rt)
  elseif(kind STREQUAL "static")
    add_custom_target(${name}_onnxc ALL DEPENDS ${outputs})
    add_library(${name} STATIC IMPORTED GLOBAL)
    set_target_properties(${name} PROPERTIES
      IMPORTED_LOCATION "${out}"
      INTERFACE_INCLUDE_DIRECTORIES "${dir}"
      INTERFACE_LINK_LIBRARIES "Threads::Threads;m")
    add_dependencies(${name} ${name}_onnxc)
  elseif(kind STREQUAL "so")
    add_custom_target(${name}_onnxc ALL DEPENDS ${outputs})
    add_library(${name} SHARED IMPORTED GLOBAL)
    # onnxc links the .so without a soname: link it by name, not by path.
    set_target_properties(${name} PROPERTIES
      IMPORTED_LOCATION "${out}" IMPORTED_NO_SONAME TRUE
      INTERFACE_INCLUDE_DIRECTORIES "${dir}")
    add_dependencies(${name} ${name}_onnxc)
  else()
    # Not an imported executable: CMake would take the custom command's output for that
    # target's file and see a dependency cycle. Run it as $<TARGET_PROPERTY:NAME,ONNXC_OUTPUT>.
    add_custom_target(${name} ALL DEPENDS ${outputs})
  endif()
  set_target_properties(${name} PROPERTIES ONNXC_OUTPUT "${out}")
  if(weights)
    set_target_properties(${name} PROPERTIES ONNXC_WEIGHTS "${weights}")
  endif()
endfunction()

cmake_policy(POP)
