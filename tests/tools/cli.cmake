# The distill executable end to end.
if(TARGET distill)
  distill_test(tools cli_test LIBS absl::strings nlohmann_json::nlohmann_json)
  add_dependencies(cli_test distill)
endif()
