# Chat templates (Jinja subset): reference renders by @huggingface/jinja are produced at ctest time by
# tests/reference/jinja_render.js into ${DISTILL_FIXTURES}/jinja_renders.json.
if(TARGET distill_jinja)
  if(NODE_EXECUTABLE)
    distill_node_fixture(jinja_renders jinja_render.js ${DISTILL_FIXTURES}/jinja_renders.json ${PROJECT_SOURCE_DIR})
    distill_test(tokenizers chat_template_test LIBS distill_jinja FIXTURES jinja_renders LABELS jinja)
    distill_test(tokenizers jinja_generic_test LIBS distill_jinja FIXTURES jinja_renders LABELS jinja)
  endif()
  distill_test(tokenizers jinja_errors_test LIBS distill_jinja LABELS jinja)
  distill_test(tokenizers jinja_fuzz_test LIBS distill_jinja LABELS jinja)
endif()
