# curl's "picky" warning set (STYLE.md), applied to the project's own code only: generated
# protobuf-c sources are compiled without it (see proto/CMakeLists.txt).
set(OVR_WARNINGS
	-Wall -Wextra -pedantic
	-Wbad-function-cast -Wconversion -Wno-sign-conversion
	-Wmissing-declarations -Wmissing-prototypes -Wnested-externs
	-Wpointer-arith -Wshadow -Wundef -Wwrite-strings -Wcast-align
	-Wfloat-equal -Wold-style-definition -Wstrict-prototypes -Wvla
	-Wdouble-promotion -Wformat=2 -Wunused-const-variable
	-Wempty-body -Wendif-labels -Wignored-qualifiers -Wtype-limits
	-Wmissing-field-initializers -Wno-format-nonliteral)
if(OVR_WERROR)
	list(APPEND OVR_WARNINGS -Werror)
endif()

# ovr_target_warnings(target): give a project target the warning set.
function(ovr_target_warnings target)
	target_compile_options(${target} PRIVATE ${OVR_WARNINGS})
endfunction()
