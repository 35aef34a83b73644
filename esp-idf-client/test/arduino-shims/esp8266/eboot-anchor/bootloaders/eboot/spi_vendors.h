/*
 * Shim: the core's cores/esp8266/spi_vendors.h includes
 * <../../bootloaders/eboot/spi_vendors.h> (the eboot bootloader's source, not
 * in the header subset). Its flash vendor ids are used by no declaration the
 * library or its sketches reach; an empty header satisfies the include. The
 * include directory eboot-anchor/a/b exists only so that "../../" resolves here.
 */
