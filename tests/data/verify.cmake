# Trace records and `distill verify` (library and the verb end to end).
if(TARGET distill_data)
  distill_test(data trace_record_test LIBS distill_data)
  distill_test(data verify_test LIBS distill_data)
endif()
if(TARGET distill)
  distill_test(data verify_cli_test LIBS nlohmann_json::nlohmann_json)
  add_dependencies(verify_cli_test distill)
endif()
