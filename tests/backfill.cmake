# Sources added by one component; included from the CMakeLists.txt beside it.
