import Glibc
import Testing
@testable import SluiceHTTP2

/// The free-list allocator behind nghttp2: blocks of every class and large ones keep their bytes
/// through realloc, calloc zeroes, freed blocks are reused, and sessions work with and without it.
@Suite struct H2AllocatorTests {
    @Test func sizeClasses() {
        #expect(H2Allocator.sizeClass(0) == 0)
        #expect(H2Allocator.sizeClass(64) == 0)
        #expect(H2Allocator.sizeClass(65) == 1)
        #expect(H2Allocator.sizeClass(128) == 1)
        #expect(H2Allocator.sizeClass(2048) == 5)
        #expect(H2Allocator.sizeClass(8192) == 7)
        #expect(H2Allocator.sizeClass(8193) == nil)
    }

    @Test func blocksKeepTheirBytesAndAreReused() {
        let a = H2Allocator(maxFreeBytes: 4096)
        var sizes = [1, 63, 64, 65, 500, 2048, 8192, 8193, 100_000]
        sizes += sizes.reversed()
        var blocks: [(UnsafeMutableRawPointer, Int)] = []
        for (i, size) in sizes.enumerated() {
            let p = a.allocate(size)!
            #expect(Int(bitPattern: p) % 16 == 0)
            memset(p, Int32(i & 0xFF), size)
            blocks.append((p, size))
        }
        for (i, (p, size)) in blocks.enumerated() {
            let grown = a.reallocate(p, size * 3 + 1)!
            #expect((0..<size).allSatisfy { grown.load(fromByteOffset: $0, as: UInt8.self) == UInt8(i & 0xFF) }, "size \(size)")
            blocks[i].0 = grown
        }
        for (p, _) in blocks { a.free(p) }
        a.free(nil)
        // A freed block of a class comes back for the next allocation of that class.
        let p = a.allocate(100)!
        a.free(p)
        #expect(a.allocate(120) == p)
        // More than maxFreeBytes of one class: the surplus goes back to malloc (no crash, no leak check here).
        let many = (0..<200).map { _ in a.allocate(64)! }
        for q in many { a.free(q) }
    }

    @Test func callocZeroesAndRefusesOverflow() {
        let a = H2Allocator()
        let mem = a.mem
        let p = a.allocate(256)!
        memset(p, 0xAB, 256)
        a.free(p)
        let z = mem.calloc(16, 16, mem.mem_user_data)!
        #expect((0..<256).allSatisfy { z.load(fromByteOffset: $0, as: UInt8.self) == 0 })
        mem.free(z, mem.mem_user_data)
        #expect(mem.calloc(Int.max, 2, mem.mem_user_data) == nil)
    }

    @Test func sessionsWithAndWithoutAllocatorExchangeRequests() {
        for allocator in [H2Allocator(), nil] {
            let pair = Pair(allocator: allocator)
            var ids: [Int32] = []
            for i in 0..<50 { ids.append(pair.client.submitRequest(headers: getRequest(path: "/r\(i)"), endStream: true)) }
            pair.pump()
            for id in ids {
                #expect(pair.server.submitResponse(stream: id, status: 200, headers: H2HeaderBlock(), endStream: true))
            }
            pair.pump()
            #expect(pair.clientHandler.closed.count == 50)
        }
    }
}
