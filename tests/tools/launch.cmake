# `distill launch`: rank environment, output prefixes, failure propagation.
if(TARGET distill)
  distill_test(tools launch_test LIBS absl::strings)
  add_dependencies(launch_test distill)
endif()
