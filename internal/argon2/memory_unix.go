//go:build unix

package argon2

import (
	"syscall"
	"unsafe"
)

// allocBlocks returns n blocks of memory mapped outside the Go heap, and a
// function that unmaps them.
//
// Outside the heap because a Buffer is long-lived and large: in the heap,
// two 19 MiB buffers would count as 38 MiB of live data, and the garbage
// collector (GOGC=100) would then let garbage grow by as much again before
// collecting, doubling what the server holds under load. A block holds no
// pointers, so the collector has nothing to find in it. When mmap fails
// (address space limits), the heap serves instead.
func allocBlocks(n uint32) (blocks []block, free func()) {
	mem, err := syscall.Mmap(-1, 0, int(n)*int(unsafe.Sizeof(block{})),
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]block, n), func() {}
	}
	return unsafe.Slice((*block)(unsafe.Pointer(unsafe.SliceData(mem))), n),
		func() { _ = syscall.Munmap(mem) }
}
