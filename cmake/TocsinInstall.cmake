# What `cmake --install` and the Debian package put where.
#
# Installing (and so CPack) does not build the whole tree first: the package holds the daemon,
# and scripts/package and the package tests build it before they ask for the package, so a
# tree that built only what it needs (tocsin-release-checks) is not made to compile every test
# program on the way.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
#
# Configuration, rules and runbooks go to /etc/tocsin when the prefix is /usr (FHS: the
# package, or `cmake --install build/default --prefix /usr`), else to <prefix>/etc/tocsin. The
# place is decided when installing, not when configuring, so one build tree serves both a
# test install into a temporary prefix and the package. The shipped tocsin.yaml refers to
# ../rules and ../runbooks (their places in a checkout); the installed copy refers to rules/
# and runbooks/ beside it. (The binary's rule is in src/cli.)
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(tocsin_conf \"/etc/tocsin\")
  else()
    set(tocsin_conf \"\${CMAKE_INSTALL_PREFIX}/etc/tocsin\")
  endif()
  # file(INSTALL) adds \$DESTDIR itself; file(WRITE) below does not.
  file(INSTALL DESTINATION \"\${tocsin_conf}\" TYPE DIRECTORY
       FILES \"${CMAKE_CURRENT_SOURCE_DIR}/config/\"
       PATTERN systemd EXCLUDE PATTERN debian EXCLUDE PATTERN tocsin.yaml EXCLUDE)
  file(INSTALL DESTINATION \"\${tocsin_conf}\" TYPE DIRECTORY
       FILES \"${CMAKE_CURRENT_SOURCE_DIR}/rules\" \"${CMAKE_CURRENT_SOURCE_DIR}/runbooks\")
  file(READ \"${CMAKE_CURRENT_SOURCE_DIR}/config/tocsin.yaml\" text)
  string(REPLACE \"../rules/\" \"rules/\" text \"\${text}\")
  string(REPLACE \"../runbooks\" \"runbooks\" text \"\${text}\")
  message(STATUS \"Installing: \$ENV{DESTDIR}\${tocsin_conf}/tocsin.yaml\")
  file(WRITE \"\$ENV{DESTDIR}\${tocsin_conf}/tocsin.yaml\" \"\${text}\")
")
install(FILES config/systemd/tocsin.service DESTINATION lib/systemd/system)
install(FILES config/systemd/tocsin.sysusers.conf DESTINATION lib/sysusers.d RENAME tocsin.conf)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The Debian package (scripts/package, or `cpack` in a build tree): the files above under /usr
# and /etc, the maintainer scripts of config/debian, every file under /etc/tocsin a conffile
# (dpkg keeps an operator's edits on upgrade and asks before replacing them).
file(GLOB_RECURSE tocsin_etc_files CONFIGURE_DEPENDS RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
     ${CMAKE_CURRENT_SOURCE_DIR}/config/* ${CMAKE_CURRENT_SOURCE_DIR}/rules/*
     ${CMAKE_CURRENT_SOURCE_DIR}/runbooks/*)
set(tocsin_conffiles "")
foreach(f IN LISTS tocsin_etc_files)
  if(f MATCHES "^config/(systemd|debian)/")
    continue()
  endif()
  string(REGEX REPLACE "^config/" "" f "${f}")
  string(APPEND tocsin_conffiles "/etc/tocsin/${f}\n")
endforeach()
set(tocsin_debian_dir ${CMAKE_CURRENT_BINARY_DIR}/debian)
file(WRITE ${tocsin_debian_dir}/conffiles "${tocsin_conffiles}")
foreach(script postinst prerm postrm)
  configure_file(config/debian/${script} ${tocsin_debian_dir}/${script} COPYONLY
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                 WORLD_READ WORLD_EXECUTE)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tocsin)
set(CPACK_PACKAGE_VENDOR "tocsin")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "SLO alerting and on-call paging daemon")
set(CPACK_PACKAGE_DESCRIPTION
    "tocsin evaluates SLO burn-rate and threshold rules against Prometheus, takes alerts in\n\
Alertmanager's API format, opens incidents, escalates them along an on-call roster and pages\n\
people through PagerDuty, Opsgenie, Slack, e-mail and webhooks through a durable outbox.")
set(CPACK_PACKAGE_CONTACT "tocsin maintainers <tocsin@localhost>")
# Installs under /usr (and /etc/tocsin, see above): the install runs with DESTDIR set.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)  # the build tree keeps the debug info
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "tzdata")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${tocsin_debian_dir}/conffiles ${tocsin_debian_dir}/postinst ${tocsin_debian_dir}/prerm
    ${tocsin_debian_dir}/postrm)
include(CPack)
