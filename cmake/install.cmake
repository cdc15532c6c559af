# `cmake --install` and the .deb (cmake/package.cmake): the binary in sbin (it needs root or
# capabilities), its man page and shell completions, the systemd unit and its flags file
# (/etc/default/cwtrace), the deploy/ files (Dockerfile, DaemonSet, alerts) under share/cwtrace,
# and the package's copyright and changelog. Each file of packaging/ and deploy/ is installed
# when it exists, so that these rules hold while those files are written.
include(GNUInstallDirs)

set(packaging ${PROJECT_SOURCE_DIR}/packaging)
# Relative (under the prefix) for `cmake --install --prefix DIR`; scripts/package sets the
# absolute places a Debian system uses: /lib/systemd/system (bookworm's units dir, what lintian
# checks for) and /etc.
set(CWTRACE_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING
    "Where the systemd unit is installed (relative: under the prefix)")

install(TARGETS cwtrace RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

if(EXISTS ${packaging}/cwtrace.8)
  # Debian's policy: manual pages compressed with gzip -9n (no name, no time: reproducible).
  set(man_gz ${CMAKE_CURRENT_BINARY_DIR}/cwtrace.8.gz)
  add_custom_command(OUTPUT ${man_gz}
    COMMAND gzip -9nc ${packaging}/cwtrace.8 > ${man_gz}
    DEPENDS ${packaging}/cwtrace.8
    COMMENT "gzip cwtrace.8")
  add_custom_target(cwtrace_man ALL DEPENDS ${man_gz})
  install(FILES ${man_gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
endif()

if(EXISTS ${packaging}/completions/cwtrace.bash)
  install(FILES ${packaging}/completions/cwtrace.bash
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME cwtrace)
endif()
if(EXISTS ${packaging}/completions/_cwtrace)
  install(FILES ${packaging}/completions/_cwtrace
          DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
endif()

if(EXISTS ${packaging}/systemd/cwtrace.service)
  install(FILES ${packaging}/systemd/cwtrace.service DESTINATION ${CWTRACE_SYSTEMD_UNIT_DIR})
endif()
if(EXISTS ${packaging}/systemd/cwtrace.default)
  install(FILES ${packaging}/systemd/cwtrace.default
          DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/default RENAME cwtrace)
endif()

if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/deploy)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/ DESTINATION ${CMAKE_INSTALL_DATADIR}/cwtrace/deploy)
endif()

# share/doc/cwtrace: the README, the copyright file Debian requires, and a changelog; lintian's
# overrides for what a static binary is (cmake/lintian-overrides says why).
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/cmake/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# changelog.gz: the name a native package's changelog has (lintian).
set(changelog ${CMAKE_CURRENT_BINARY_DIR}/changelog)
set(changelog_gz ${changelog}.gz)
# Its date is the last commit's, so that the same sources give the same package.
execute_process(COMMAND git -C ${PROJECT_SOURCE_DIR} log -1 --format=%cD
                OUTPUT_VARIABLE commit_date OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit_date)
  set(commit_date "Thu, 01 Jan 1970 00:00:00 +0000")
endif()
set(CWTRACE_MAINTAINER "cwtrace maintainers <maintainers@users.noreply.r-seed-e9b48953.example>"
    CACHE STRING "The .deb's Maintainer field and changelog signature")
file(CONFIGURE OUTPUT ${changelog} @ONLY CONTENT
"cwtrace (@PROJECT_VERSION@) unstable; urgency=medium

  * cwtrace @PROJECT_VERSION@, built by scripts/package.

 -- @CWTRACE_MAINTAINER@  @commit_date@
")
add_custom_command(OUTPUT ${changelog_gz}
  COMMAND gzip -9nc ${changelog} > ${changelog_gz}
  DEPENDS ${changelog}
  COMMENT "gzip changelog")
add_custom_target(cwtrace_changelog ALL DEPENDS ${changelog_gz})
install(FILES ${changelog_gz} DESTINATION ${CMAKE_INSTALL_DOCDIR})

install(FILES ${PROJECT_SOURCE_DIR}/cmake/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME cwtrace)

include(cmake/package.cmake)
