# The Xen flavour of the nested host (issue 22, xen@nested): Xen 4.17 with a
# PVH dom0 (this nested host's kernel), the Xen toolstack and libvirt's libxl
# driver, from Debian's packages, on top of the KVM image (build-xen-host.sh).
# Included by nested-host/CMakeLists.txt; the core finds it in
# ${EZONE_NESTED_HOST_BUILD_DIR}-xen (core/src/nested_xen_host.cc).
#
# Target: ezone_nested_xen_host_image (ALL)
option(EZONE_NESTED_XEN_HOST "Build the Xen nested host image (xen@nested checks)" ON)
if(NOT EZONE_NESTED_XEN_HOST)
  message(STATUS "ezone nested host: Xen flavour disabled (EZONE_NESTED_XEN_HOST=OFF); xen@nested checks will skip")
  return()
endif()
set(_xen_out ${EZONE_NESTED_HOST_BUILD_DIR}-xen)
set(_xen_image ${_xen_out}/xen ${_xen_out}/vmlinuz ${_xen_out}/initramfs.cpio
    ${_xen_out}/nested-host-manifest.json)
add_custom_command(
  OUTPUT ${_xen_image}
  COMMAND ${CMAKE_COMMAND} -E env
          OUT_DIR=${_xen_out}
          NESTED_DIR=${EZONE_NESTED_HOST_BUILD_DIR}
          KERNEL_TREE=${EZONE_NESTED_HOST_BUILD_DIR}/kernel
          KERNEL_RELEASE=${EZONE_NESTED_KERNEL_RELEASE}
          XEN_INIT=${CMAKE_CURRENT_SOURCE_DIR}/xen-init
          XEN_HOST_DUMP=${CMAKE_CURRENT_SOURCE_DIR}/xen-host-dump
          ${CMAKE_CURRENT_SOURCE_DIR}/build-xen-host.sh
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/build-xen-host.sh
          ${CMAKE_CURRENT_SOURCE_DIR}/xen-init
          ${CMAKE_CURRENT_SOURCE_DIR}/xen-host-dump
          ${CMAKE_CURRENT_SOURCE_DIR}/xen-vm-left
          ${EZONE_NESTED_HOST_BUILD_DIR}/initramfs.cpio
          ezone_nested_host_image
  COMMENT "Building the Xen nested host image (Xen 4.17, PVH dom0, libxl, libvirtd)"
  VERBATIM)
add_custom_target(ezone_nested_xen_host_image ALL DEPENDS ${_xen_image})
install(FILES ${_xen_image} DESTINATION ${CMAKE_INSTALL_DATADIR}/ezone/nested-host-xen
        COMPONENT nested-host EXCLUDE_FROM_ALL)
