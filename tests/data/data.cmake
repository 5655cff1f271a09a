# Data library pieces: answer extraction/equivalence, trace filters, dedup and decontamination; the line reader.
if(TARGET distill_data)
  foreach(t answer_grader_test trace_filters_test line_reader_test)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/data/${t}.cc)
      distill_test(data ${t} LIBS distill_data)
    endif()
  endforeach()
endif()
# Folder removal without std::filesystem::remove_all (header-only; every LibTorch-linked program uses it).
if(absl_FOUND)
  distill_test(data remove_tree_test LIBS absl::status absl::strings)
endif()
