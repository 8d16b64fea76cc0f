import CNghttp2
import Glibc

/// nghttp2's memory, from per-size-class free lists kept by one worker for all its sessions.
///
/// nghttp2 allocates and frees about six small blocks per request (the stream, its outbound
/// items, the copied response fields, decoded header buffers); glibc's malloc and free cost
/// ~240 instructions a pair there. Here a block of up to 8 KiB comes from and goes back to the
/// free list of its power-of-two class (64 B … 8 KiB): a pop or a push. Larger blocks (the
/// session itself) go to malloc. At most `maxFreeBytes` wait per class (a worker's sessions
/// together can have a few hundred streams' blocks in flight), so at most
/// `classCount` × `maxFreeBytes` (2 MiB by default) stays resident after a burst.
///
/// Not thread-safe: every session using one allocator must live on one thread (a worker's loop).
/// Each session holds a strong reference, so the allocator outlives the blocks it handed out.
public final class H2Allocator {
    /// Size classes: 64 << k for k in 0 ..< classCount.
    static let classCount = 8
    /// Bytes before each block: its class (a large block: `large`), keeping 16-byte alignment.
    static let header = 16
    static let large = -1

    /// Free-list heads (the link is stored in the block's first word).
    private let heads: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Blocks waiting per class.
    private let counts: UnsafeMutablePointer<Int>
    /// Most blocks kept per class (`maxFreeBytes` / block size, at least 8).
    private let maxFree: UnsafeMutablePointer<Int>

    /// An allocator keeping at most `maxFreeBytes` of free blocks per size class.
    public init(maxFreeBytes: Int = 256 * 1024) {
        maxFree = .allocate(capacity: H2Allocator.classCount)
        for k in 0..<H2Allocator.classCount { (maxFree + k).initialize(to: max(8, maxFreeBytes / (64 << k))) }
        heads = .allocate(capacity: H2Allocator.classCount)
        heads.initialize(repeating: nil, count: H2Allocator.classCount)
        counts = .allocate(capacity: H2Allocator.classCount)
        counts.initialize(repeating: 0, count: H2Allocator.classCount)
    }

    deinit {
        for k in 0..<H2Allocator.classCount {
            var p = heads[k]
            while let block = p {
                p = block.load(as: UnsafeMutableRawPointer?.self)
                Glibc.free(block - H2Allocator.header)
            }
        }
        heads.deallocate()
        counts.deallocate()
        maxFree.deallocate()
    }

    /// The class holding `size` bytes (nil: larger than the largest class).
    @inline(__always)
    static func sizeClass(_ size: Int) -> Int? {
        if size <= 64 { return 0 }
        let k = (Int.bitWidth &- (size &- 1).leadingZeroBitCount) &- 6
        return k < classCount ? k : nil
    }

    @inline(__always)
    func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        guard let k = H2Allocator.sizeClass(size) else {
            guard let raw = Glibc.malloc(size &+ H2Allocator.header) else { return nil }
            raw.storeBytes(of: H2Allocator.large, as: Int.self)
            return raw + H2Allocator.header
        }
        if let block = heads[k] {
            heads[k] = block.load(as: UnsafeMutableRawPointer?.self)
            counts[k] &-= 1
            return block
        }
        guard let raw = Glibc.malloc((64 &<< k) &+ H2Allocator.header) else { return nil }
        raw.storeBytes(of: k, as: Int.self)
        return raw + H2Allocator.header
    }

    @inline(__always)
    func free(_ block: UnsafeMutableRawPointer?) {
        guard let block else { return }
        let k = (block - H2Allocator.header).load(as: Int.self)
        if k >= 0 && counts[k] < maxFree[k] {
            block.storeBytes(of: heads[k], as: UnsafeMutableRawPointer?.self)
            heads[k] = block
            counts[k] &+= 1
        } else {
            Glibc.free(block - H2Allocator.header)
        }
    }

    func reallocate(_ block: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
        guard let block else { return allocate(size) }
        let k = (block - H2Allocator.header).load(as: Int.self)
        if k < 0 {
            guard let raw = Glibc.realloc(block - H2Allocator.header, size &+ H2Allocator.header) else { return nil }
            return raw + H2Allocator.header
        }
        let capacity = 64 &<< k
        if size <= capacity { return block }
        guard let fresh = allocate(size) else { return nil }
        fresh.copyMemory(from: block, byteCount: capacity)
        free(block)
        return fresh
    }

    /// The table handed to `nghttp2_session_*_new3` (nghttp2 copies it). `self` must outlive
    /// every session created with it.
    var mem: nghttp2_mem {
        nghttp2_mem(
            mem_user_data: Unmanaged.passUnretained(self).toOpaque(),
            malloc: { size, ud in
                Unmanaged<H2Allocator>.fromOpaque(ud!)._withUnsafeGuaranteedRef { $0.allocate(size) }
            },
            free: { block, ud in
                Unmanaged<H2Allocator>.fromOpaque(ud!)._withUnsafeGuaranteedRef { $0.free(block) }
            },
            calloc: { count, size, ud in
                let (total, overflow) = count.multipliedReportingOverflow(by: size)
                if overflow { return nil }
                let block = Unmanaged<H2Allocator>.fromOpaque(ud!)._withUnsafeGuaranteedRef { $0.allocate(total) }
                if let block { memset(block, 0, total) }
                return block
            },
            realloc: { block, size, ud in
                Unmanaged<H2Allocator>.fromOpaque(ud!)._withUnsafeGuaranteedRef { $0.reallocate(block, size) }
            })
    }
}
