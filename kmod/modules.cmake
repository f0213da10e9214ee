# The guest kernel modules built from kmod/ and packed into the guest image
# (under /lib/modules/ezone/<name>.ko).  Shared by guest/ and kmod/.
set(EZONE_KMODS kerncrash)
set(EZONE_KMOD_OUTPUT_DIR ${CMAKE_BINARY_DIR}/kmod/modules)
