# Run configuration: YAML + dotted overrides, validation, resolved.yaml.
if(TARGET distill_config)
  distill_test(tools config_test LIBS distill_config GTest::gmock)
endif()
