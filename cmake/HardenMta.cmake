# HardenMta.cmake - unpacked MTAs for tests, as ctest fixtures.
#
#   include(${PROJECT_SOURCE_DIR}/cmake/HardenMta.cmake)
#   harden_mta_fixture(sendmail)        # or exim, postfix; safe to call from several dirs
#   set_tests_properties(my_test PROPERTIES FIXTURES_REQUIRED mta_sendmail)
#   # the tree is in ${HARDEN_MTA_DIR}/sendmail (see scripts/fetch-mta.sh for its layout)
#
# harden_mta_fixture(MTA) adds, once per build tree, the ctest test
# `mta_fetch_MTA` (FIXTURES_SETUP mta_MTA) that runs scripts/fetch-mta.sh MTA
# ${HARDEN_MTA_DIR}/MTA: apt-get download + dpkg -x, cached in the build tree.
# Tests that need the tree require fixture mta_MTA; ctest runs the fetch
# first, and not the tests if it fails. Running tests as root additionally
# lets them use scripts/mta-sandbox.sh (HARDEN_MTA_SANDBOX).
set(HARDEN_MTA_DIR "${CMAKE_BINARY_DIR}/mta" CACHE INTERNAL "unpacked MTA packages for tests")
set(HARDEN_MTA_FETCH "${PROJECT_SOURCE_DIR}/scripts/fetch-mta.sh" CACHE INTERNAL "")
set(HARDEN_MTA_SANDBOX "${PROJECT_SOURCE_DIR}/scripts/mta-sandbox.sh" CACHE INTERNAL "")

function(harden_mta_fixture mta)
  get_property(done GLOBAL PROPERTY HARDEN_MTA_FIXTURE_${mta})
  if(done)
    return()
  endif()
  set_property(GLOBAL PROPERTY HARDEN_MTA_FIXTURE_${mta} TRUE)
  add_test(NAME mta_fetch_${mta}
           COMMAND ${HARDEN_MTA_FETCH} ${mta} ${HARDEN_MTA_DIR}/${mta})
  set_tests_properties(mta_fetch_${mta} PROPERTIES
    FIXTURES_SETUP mta_${mta}
    TIMEOUT 300
    RESOURCE_LOCK mta_fetch)
endfunction()
