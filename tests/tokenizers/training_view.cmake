# Model folders and the training view, checked against @huggingface/jinja + HF tokenizers.
if(TARGET distill_tokenizers)
  distill_test(tokenizers training_view_test LIBS distill_tokenizers)
  distill_test(tokenizers model_folder_test LIBS distill_tokenizers)
endif()
