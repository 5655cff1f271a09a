# `distill report`: the HTML report library (report_test), its rendering in headless Chromium
# (report_chromium_test: DOM and screenshot), and the verb through the binary (report_cli_test).
if(TARGET distill_eval)
  distill_test(eval report_test LIBS distill_eval)
  # Chromium comes from tools/setup.sh; without it the test fails (DISTILL_ALLOW_SKIP=1 turns that into a skip).
  find_package(ZLIB)
  if(ZLIB_FOUND)
    distill_test(eval report_chromium_test LIBS distill_eval ZLIB::ZLIB LABELS chromium)
    target_compile_definitions(report_chromium_test PRIVATE DISTILL_HAVE_ZLIB=1)
  else()
    distill_test(eval report_chromium_test LIBS distill_eval LABELS chromium)
  endif()
  set_tests_properties(eval/report_chromium_test PROPERTIES TIMEOUT 300)
endif()
if(TARGET distill AND TARGET distill_eval)
  distill_test(eval report_cli_test LIBS nlohmann_json::nlohmann_json)
  add_dependencies(report_cli_test distill)
endif()
