# The Debian package (CPack's DEB generator; scripts/package runs it on the static build):
# cwtrace_VERSION_amd64.deb holding what cmake/install.cmake installs.
#
# Depends: nothing. The static binary loads no shared library; what it needs at run time is the
# kernel's: BTF (/sys/kernel/btf/vmlinux), a BPF ring buffer (5.8+), and root or the
# capabilities the man page lists. No package expresses those (a container's kernel is the
# host's), so cwtrace checks them at start and says what is missing.
# Suggests: prometheus, which scrapes continuous mode's /metrics and reads deploy/alerts.yml.
# No maintainer scripts: the unit is installed, not enabled or started. A tracer holding
# CAP_BPF should run when the operator has chosen its flags in /etc/default/cwtrace
# (systemctl enable --now cwtrace), not as a side effect of installing it; systemd finds a new
# unit file without a daemon-reload.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cwtrace)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${CWTRACE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "report TCP sockets stuck in CLOSE_WAIT, their owner and opening code")
# One string (several would make a CMake list); lines under 80 columns (lintian).
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "cwtrace traces TCP sockets with BPF and reports those left in CLOSE_WAIT:\n"
  "the peer closed the connection and the local process never did. For each\n"
  "it shows the process and thread that hold it, how long it has been stuck,\n"
  "and the code path (kernel, native and Python frames) that opened it, as\n"
  "text, JSON, flame graphs or pprof, once or continuously as Prometheus\n"
  "metrics.\n"
  "\n"
  "The binary is statically linked and runs on any x86-64 kernel with BTF and\n"
  "a BPF ring buffer (Linux 5.8 or newer).")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS prometheus)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
# Control files 0644, directories 0755 whatever the umask (lintian checks both).
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
    GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

# /etc/default/cwtrace is the operator's: dpkg keeps their edits across upgrades.
set(sysconf ${CMAKE_INSTALL_SYSCONFDIR})
if(EXISTS ${PROJECT_SOURCE_DIR}/packaging/systemd/cwtrace.default AND IS_ABSOLUTE ${sysconf})
  set(conffiles ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles)
  file(CONFIGURE OUTPUT ${conffiles} CONTENT "${sysconf}/default/cwtrace\n")
  set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${conffiles})
endif()

include(CPack)
