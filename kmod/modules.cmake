# The guest kernel modules built from kmod/ and packed into the guest image
# (under /lib/modules/ezone/<name>.ko).  Shared by guest/ and kmod/.
set(EZONE_KMODS kerncrash)
set(EZONE_KMOD_OUTPUT_DIR ${CMAKE_BINARY_DIR}/kmod/modules)
# LKDTM, the kernel's own crash tests, built out of tree from Debian's
# linux-source (kmod/lkdtm/); packed beside the modules above.
option(EZONE_LKDTM "Build LKDTM (lkdtm.ko) from Debian's kernel source for the lkdtm fault plugin" ON)
set(EZONE_KMODS_PACKED ${EZONE_KMODS})
if(EZONE_LKDTM)
  list(APPEND EZONE_KMODS_PACKED lkdtm)
endif()
