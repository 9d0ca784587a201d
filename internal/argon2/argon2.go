// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Package argon2 is Argon2id (RFC 9106, version 0x13) with working memory
// the caller owns and reuses.
//
// It is golang.org/x/crypto/argon2 (its SSE4 assembly unchanged) with one
// difference: [golang.org/x/crypto/argon2.IDKey] allocates Memory KiB
// (19 MiB with OWASP's parameters) on every call, and the runtime zeroes
// that memory and the kernel faults it in page by page each time: about a
// tenth of a password check's CPU time, and a heap that swings by tens of
// megabytes under a burst of logins. Here a [Buffer] is allocated once
// (outside the Go heap, see allocBlocks) and reused, which the algorithm allows: the first pass writes every block
// before any block is read, so what a buffer held before never shows.
// That is also why this copy overwrites blocks in the first pass, where
// x/crypto XORs them into zeroed memory (the same result on zeroed memory).
//
// The results are bit for bit those of x/crypto, which the tests check.
package argon2

import (
	"encoding/binary"
	"runtime"
	"sync"
	"time"

	"golang.org/x/crypto/blake2b"
)

// Version is the Argon2 version implemented by this package.
const Version = 0x13

const argon2id = 2 // the type field of H0

const (
	blockLength = 128
	syncPoints  = 4
)

type block [blockLength]uint64

// Buffer is the working memory of one key derivation at a time. The zero
// value is ready to use; it grows to the largest memory asked of it. Its
// memory goes back to the system when the Buffer is garbage collected, or
// earlier with ReleaseAfter. A Buffer is not safe for concurrent use
// (ReleaseAfter's timer aside).
type Buffer struct {
	mu      sync.Mutex // between the user and the idle timer
	blocks  []block
	free    func()
	cleanup runtime.Cleanup
	inUse   bool
	idle    *time.Timer // ReleaseAfter's
}

// Size is the memory the buffer holds, in KiB.
func (b *Buffer) Size() uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return uint32(len(b.blocks))
}

// IDKey derives a key of keyLen bytes from password and salt with
// Argon2id: passes over memory KiB in threads lanes. It returns what
// [golang.org/x/crypto/argon2.IDKey] returns for the same arguments, and
// panics as it does when passes or threads is zero. It cancels a
// pending ReleaseAfter.
func (b *Buffer) IDKey(password, salt []byte, passes, memory uint32, threads uint8, keyLen uint32) []byte {
	checkCosts(passes, threads)
	b.mu.Lock()
	b.inUse = true
	if b.idle != nil {
		b.idle.Stop()
	}
	if n := blockCount(memory, threads); uint32(len(b.blocks)) < n {
		b.releaseLocked()
		b.blocks, b.free = allocBlocks(n)
		b.cleanup = runtime.AddCleanup(b, func(free func()) { free() }, b.free)
	}
	blocks := b.blocks
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inUse = false
		b.mu.Unlock()
	}()
	return deriveKey(blocks, password, salt, passes, memory, threads, keyLen)
}

// ReleaseAfter returns the buffer's memory to the system once d has passed
// without a derivation; the next IDKey allocates it again. A server keeps
// its buffers through a burst of logins and lets them go when it is
// quiet.
func (b *Buffer) ReleaseAfter(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.idle == nil {
		b.idle = time.AfterFunc(d, b.releaseIdle)
		return
	}
	b.idle.Reset(d)
}

func (b *Buffer) releaseIdle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.inUse {
		b.releaseLocked()
	}
}

func (b *Buffer) releaseLocked() {
	if b.free != nil {
		b.cleanup.Stop()
		b.free()
	}
	b.blocks, b.free = nil, nil
}

// IDKey is [Buffer.IDKey] with memory from the Go heap, for one-off use.
func IDKey(password, salt []byte, passes, memory uint32, threads uint8, keyLen uint32) []byte {
	checkCosts(passes, threads)
	return deriveKey(make([]block, blockCount(memory, threads)), password, salt, passes, memory, threads, keyLen)
}

func checkCosts(passes uint32, threads uint8) {
	if passes < 1 {
		panic("argon2: number of rounds too small")
	}
	if threads < 1 {
		panic("argon2: parallelism degree too low")
	}
}

// blockCount is the number of 1 KiB blocks used for memory KiB: a multiple
// of 4 (sync points) × threads, at least two per segment.
func blockCount(memory uint32, threads uint8) uint32 {
	n := memory / (syncPoints * uint32(threads)) * (syncPoints * uint32(threads))
	return max(n, 2*syncPoints*uint32(threads))
}

// deriveKey runs Argon2id in the first blockCount(memory, threads) of B,
// whatever they hold.
func deriveKey(B []block, password, salt []byte, passes, memory uint32, threads uint8, keyLen uint32) []byte {
	// H0 takes the memory asked for; the blocks are what it rounds to.
	h0 := initHash(password, salt, passes, memory, uint32(threads), keyLen)
	n := blockCount(memory, threads)
	B = B[:n]
	initBlocks(B, &h0, n, uint32(threads))
	processBlocks(B, passes, n, uint32(threads))
	return extractKey(B, n, uint32(threads), keyLen)
}

func initHash(password, salt []byte, passes, memory, threads, keyLen uint32) [blake2b.Size + 8]byte {
	var (
		h0     [blake2b.Size + 8]byte
		params [24]byte
		tmp    [4]byte
	)

	b2, _ := blake2b.New512(nil)
	binary.LittleEndian.PutUint32(params[0:4], threads)
	binary.LittleEndian.PutUint32(params[4:8], keyLen)
	binary.LittleEndian.PutUint32(params[8:12], memory)
	binary.LittleEndian.PutUint32(params[12:16], passes)
	binary.LittleEndian.PutUint32(params[16:20], uint32(Version))
	binary.LittleEndian.PutUint32(params[20:24], uint32(argon2id))
	b2.Write(params[:])
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(password)))
	b2.Write(tmp[:])
	b2.Write(password)
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(salt)))
	b2.Write(tmp[:])
	b2.Write(salt)
	// No secret key and no associated data: their lengths are zero.
	binary.LittleEndian.PutUint32(tmp[:], 0)
	b2.Write(tmp[:])
	b2.Write(tmp[:])
	b2.Sum(h0[:0])
	return h0
}

// initBlocks writes the first two blocks of every lane.
func initBlocks(B []block, h0 *[blake2b.Size + 8]byte, memory, threads uint32) {
	var block0 [1024]byte
	for lane := uint32(0); lane < threads; lane++ {
		j := lane * (memory / threads)
		binary.LittleEndian.PutUint32(h0[blake2b.Size+4:], lane)

		binary.LittleEndian.PutUint32(h0[blake2b.Size:], 0)
		blake2bHash(block0[:], h0[:])
		for i := range B[j+0] {
			B[j+0][i] = binary.LittleEndian.Uint64(block0[i*8:])
		}

		binary.LittleEndian.PutUint32(h0[blake2b.Size:], 1)
		blake2bHash(block0[:], h0[:])
		for i := range B[j+1] {
			B[j+1][i] = binary.LittleEndian.Uint64(block0[i*8:])
		}
	}
}

func processBlocks(B []block, passes, memory, threads uint32) {
	lanes := memory / threads
	segments := lanes / syncPoints

	processSegment := func(n, slice, lane uint32) {
		var addresses, in, zero block
		// Argon2id addresses the first half of the first pass
		// independently of the data (as Argon2i), the rest by the data.
		dataIndependent := n == 0 && slice < syncPoints/2
		if dataIndependent {
			in[0] = uint64(n)
			in[1] = uint64(lane)
			in[2] = uint64(slice)
			in[3] = uint64(memory)
			in[4] = uint64(passes)
			in[5] = uint64(argon2id)
		}

		index := uint32(0)
		if n == 0 && slice == 0 {
			index = 2 // we have already generated the first two blocks
			if dataIndependent {
				in[6]++
				processBlock(&addresses, &in, &zero)
				processBlock(&addresses, &addresses, &zero)
			}
		}

		offset := lane*lanes + slice*segments + index
		var random uint64
		for index < segments {
			prev := offset - 1
			if index == 0 && slice == 0 {
				prev += lanes // last block in lane
			}
			if dataIndependent {
				if index%blockLength == 0 {
					in[6]++
					processBlock(&addresses, &in, &zero)
					processBlock(&addresses, &addresses, &zero)
				}
				random = addresses[index%blockLength]
			} else {
				random = B[prev][0]
			}
			newOffset := indexAlpha(random, lanes, segments, threads, n, slice, lane, index)
			if n == 0 {
				// The first pass overwrites: the buffer may hold an
				// earlier derivation's blocks.
				processBlock(&B[offset], &B[prev], &B[newOffset])
			} else {
				processBlockXOR(&B[offset], &B[prev], &B[newOffset])
			}
			index, offset = index+1, offset+1
		}
	}

	for n := uint32(0); n < passes; n++ {
		for slice := uint32(0); slice < syncPoints; slice++ {
			if threads == 1 {
				// One lane: no goroutine to start and wait for.
				processSegment(n, slice, 0)
				continue
			}
			var wg sync.WaitGroup
			for lane := uint32(0); lane < threads; lane++ {
				wg.Go(func() { processSegment(n, slice, lane) })
			}
			wg.Wait()
		}
	}
}

func extractKey(B []block, memory, threads, keyLen uint32) []byte {
	lanes := memory / threads
	for lane := uint32(0); lane < threads-1; lane++ {
		for i, v := range B[(lane*lanes)+lanes-1] {
			B[memory-1][i] ^= v
		}
	}

	var block [1024]byte
	for i, v := range B[memory-1] {
		binary.LittleEndian.PutUint64(block[i*8:], v)
	}
	key := make([]byte, keyLen)
	blake2bHash(key, block[:])
	return key
}

func indexAlpha(rand uint64, lanes, segments, threads, n, slice, lane, index uint32) uint32 {
	refLane := uint32(rand>>32) % threads
	if n == 0 && slice == 0 {
		refLane = lane
	}
	m, s := 3*segments, ((slice+1)%syncPoints)*segments
	if lane == refLane {
		m += index
	}
	if n == 0 {
		m, s = slice*segments, 0
		if slice == 0 || lane == refLane {
			m += index
		}
	}
	if index == 0 || lane == refLane {
		m--
	}
	return phi(rand, uint64(m), uint64(s), refLane, lanes)
}

func phi(rand, m, s uint64, lane, lanes uint32) uint32 {
	p := rand & 0xFFFFFFFF
	p = (p * p) >> 32
	p = (p * m) >> 32
	return lane*lanes + uint32((s+m-(p+1))%uint64(lanes))
}
