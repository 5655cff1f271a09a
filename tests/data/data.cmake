# Verifier library pieces: answer extraction/equivalence, trace filters, dedup and decontamination; the fast JSON
# line parser.
if(TARGET distill_data)
  foreach(t answer_grader_test trace_filters_test json_fast_test)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/data/${t}.cc)
      distill_test(data ${t} LIBS distill_data)
    endif()
  endforeach()
endif()
