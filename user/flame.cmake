# Flame-style reports (issue 4): folded, SVG, speedscope and pprof renderers, `cwtrace render`.
# Included from user/CMakeLists.txt.

find_package(Protobuf REQUIRED)
find_package(ZLIB REQUIRED)

# pprof's profile.proto -> profile.pb.{h,cc} in the build tree.
set(CWTRACE_PROTO_DIR ${CMAKE_CURRENT_BINARY_DIR}/proto)
file(MAKE_DIRECTORY ${CWTRACE_PROTO_DIR})
add_custom_command(
  OUTPUT ${CWTRACE_PROTO_DIR}/profile.pb.cc ${CWTRACE_PROTO_DIR}/profile.pb.h
  COMMAND protobuf::protoc --cpp_out=${CWTRACE_PROTO_DIR} -I${PROJECT_SOURCE_DIR}/proto
          ${PROJECT_SOURCE_DIR}/proto/profile.proto
  DEPENDS ${PROJECT_SOURCE_DIR}/proto/profile.proto protobuf::protoc
  COMMENT "protoc profile.proto"
  VERBATIM)
# Generated code is not ours to keep warning-free.
set_source_files_properties(${CWTRACE_PROTO_DIR}/profile.pb.cc PROPERTIES COMPILE_OPTIONS -w)

# The SVG's script lives in a .js file of its own and is embedded as a string literal.
file(READ ${CMAKE_CURRENT_SOURCE_DIR}/flame_graph.js FLAME_GRAPH_JS)
configure_file(flame_graph_js.h.in ${CMAKE_CURRENT_BINARY_DIR}/gen/flame_graph_js.h @ONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS flame_graph.js)

target_sources(cwtrace_core PRIVATE
  display.cpp
  opening_paths.cpp
  flame.cpp
  render_folded.cpp
  render_svg.cpp
  render_speedscope.cpp
  render_pprof.cpp
  report_reader.cpp
  render_command.cpp
  ${CWTRACE_PROTO_DIR}/profile.pb.cc)
target_include_directories(cwtrace_core PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/gen)
# PUBLIC: the tests read the profiles back with the same generated classes.
target_include_directories(cwtrace_core SYSTEM PUBLIC ${CWTRACE_PROTO_DIR})
target_link_libraries(cwtrace_core PUBLIC protobuf::libprotobuf PRIVATE ZLIB::ZLIB)
