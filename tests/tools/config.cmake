# Run configuration: YAML + dotted overrides, validation, resolved.yaml; the train sections' ranges.
if(TARGET distill_config)
  distill_test(tools config_test LIBS distill_config GTest::gmock)
  distill_test(tools train_config_test LIBS distill_config GTest::gmock)
endif()
