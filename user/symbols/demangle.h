// C++ (Itanium ABI) symbol names for people: "_ZN3foo3barEi" -> "foo::bar(int)".
#pragma once

#include <string>

namespace cwtrace {

// The demangled name, or `name` itself when it is not a mangled C++ name.
std::string demangle(const std::string& name);

}  // namespace cwtrace
