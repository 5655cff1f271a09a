# The shard builder's text mode (`distill build --text`: plain text → tokens + EOS, loss on every token).
if(TARGET distill_build AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/data/shard_text_test.cc)
  distill_test(data shard_text_test LIBS distill_build)
endif()
