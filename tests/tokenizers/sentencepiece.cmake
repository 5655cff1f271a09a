# SentencePiece backend; the test trains its own tiny model (no binary fixtures), hence libsentencepiece_train.
if(TARGET distill_sentencepiece)
  distill_test(tokenizers sentencepiece_test LIBS distill_tokenizers PkgConfig::SENTENCEPIECE)
endif()
