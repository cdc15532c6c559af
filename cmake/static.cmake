# CWTRACE_STATIC: one x86-64 executable with no shared-library dependency, for copying to any
# Linux with a supported kernel (scripts/package builds it; dev and test builds stay dynamic).
# The top-level CMakeLists.txt includes it and calls:
#   cwtrace_static_prefer_archives()  before the dependencies are found: .a over .so
#   cwtrace_static_targets()          after: each dependency's target names its static archives
#                                      and what they need; httplib header-only from Debian's
#                                      source; spdlog and fmt header-only (cwtrace_spdlog)
#   cwtrace_static_executable(TARGET) after the targets: no dlopen(), debug info split off

# glibc static too (-static-pie keeps ASLR). What cwtrace asks glibc for works without its
# shared objects: --metrics-addr HOST resolves through getaddrinfo(), whose "files" and "dns"
# NSS modules are built into libc.a since glibc 2.34 (numeric addresses never reach NSS);
# nothing looks up users or groups. The linker's warnings about getaddrinfo and dlopen say
# what would need glibc's shared objects at run time; cwtrace_static_executable() answers the
# one dlopen() left.
function(cwtrace_static_prefer_archives)
  set(CMAKE_FIND_LIBRARY_SUFFIXES .a PARENT_SCOPE)
  set(ZLIB_USE_STATIC_LIBS ON PARENT_SCOPE)
  set(Protobuf_USE_STATIC_LIBS ON PARENT_SCOPE)
  add_link_options(-static-pie)
endfunction()

# The directory holding cpp-httplib's whole (header-only) httplib.h: Debian's libcpp-httplib-dev
# ships the split header whose code lives only in libcpp-httplib.so, so scripts/package unpacks
# the same version's Debian source package (security patches applied) and passes its directory.
set(CWTRACE_HTTPLIB_SOURCE "" CACHE PATH
    "Directory with the header-only httplib.h (Debian's cpp-httplib source; scripts/package)")

# pkg-config's imported targets name the shared libraries; the static ones also need what
# pkg-config --static lists (libdw: libelf, zlib, liblzma, libbz2; libbpf: libelf, zlib; Abseil's
# map: its hash and raw_hash_set archives and what they use).
function(_cwtrace_static_pkg prefix)
  set_target_properties(PkgConfig::${prefix} PROPERTIES
    INTERFACE_LINK_LIBRARIES "${${prefix}_STATIC_LIBRARIES}" INTERFACE_LINK_OPTIONS "")
endfunction()

function(cwtrace_static_targets)
  foreach(prefix LIBBPF LIBELF LIBDW ABSL)
    _cwtrace_static_pkg(${prefix})
  endforeach()

  if(NOT EXISTS "${CWTRACE_HTTPLIB_SOURCE}/httplib.h")
    message(FATAL_ERROR "CWTRACE_STATIC needs -DCWTRACE_HTTPLIB_SOURCE=DIR, a directory with "
                        "cpp-httplib's header-only httplib.h (scripts/package fetches Debian's)")
  endif()
  file(STRINGS "${CWTRACE_HTTPLIB_SOURCE}/httplib.h" version_line
       REGEX "^#define CPPHTTPLIB_VERSION ")
  file(STRINGS /usr/include/httplib.h system_version_line REGEX "^#define CPPHTTPLIB_VERSION ")
  if(NOT version_line STREQUAL system_version_line)
    message(FATAL_ERROR "${CWTRACE_HTTPLIB_SOURCE}/httplib.h is not the version of "
                        "/usr/include/httplib.h (${version_line} vs ${system_version_line})")
  endif()
  # Debian's libcpp-httplib is built with poll() (select() breaks past descriptor 1023) and
  # gzip; OpenSSL and brotli stay out: cwtrace serves plain HTTP.
  add_library(PkgConfig::HTTPLIB INTERFACE IMPORTED GLOBAL)
  set_target_properties(PkgConfig::HTTPLIB PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${CWTRACE_HTTPLIB_SOURCE}"
    INTERFACE_COMPILE_DEFINITIONS "CPPHTTPLIB_USE_POLL;CPPHTTPLIB_ZLIB_SUPPORT"
    INTERFACE_LINK_LIBRARIES ZLIB::ZLIB)

  # Debian's libspdlog-dev and libfmt-dev ship no archives. spdlog's headers are whole without
  # SPDLOG_COMPILED_LIB; its spdlog_header_only target still links the shared libfmt, so fmt
  # is made header-only here (FMT_HEADER_ONLY) under the same external-fmt spdlog.
  target_link_libraries(cwtrace_spdlog INTERFACE fmt::fmt-header-only Threads::Threads)
  target_compile_definitions(cwtrace_spdlog INTERFACE SPDLOG_FMT_EXTERNAL)
endfunction()

# The static executable TARGET: dlopen() answered by cmake/static_no_dlopen.c, and its debug
# info split into TARGET-VERSION-x86_64.debug beside it (the name its .gnu_debuglink names, as
# scripts/package copies both to dist/); the binary is stripped in place, so that the install
# rules and the .deb take the stripped one.
function(cwtrace_static_executable target)
  # libdwfl dlopen()s libdebuginfod.so.1 when a build ID is not found locally: in a static
  # process that would map a second libc (the host's) beside ours. cwtrace reads local debug
  # files only. glibc's own loads (NSS, iconv) call its internal entry, not this symbol.
  target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/cmake/static_no_dlopen.c)
  target_link_options(${target} PRIVATE -Wl,--wrap=dlopen)

  set(debug_name ${target}-${PROJECT_VERSION}-${CMAKE_SYSTEM_PROCESSOR}.debug)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_OBJCOPY} --only-keep-debug --compress-debug-sections=zlib
            $<TARGET_FILE_NAME:${target}> ${debug_name}
    COMMAND ${CMAKE_OBJCOPY} --strip-unneeded --remove-section=.comment
            --add-gnu-debuglink=${debug_name} $<TARGET_FILE_NAME:${target}>
    WORKING_DIRECTORY $<TARGET_FILE_DIR:${target}>
    COMMENT "Splitting debug info of ${target} into ${debug_name}"
    VERBATIM)
endfunction()
