import SluiceRouting

/// A request held in one owned buffer, as the proxy's header storage would be.
final class TestRequest: RequestAttributes {
    private let storage: UnsafeMutableRawBufferPointer
    private let pathRange: Range<Int>
    private let queryRange: Range<Int>?
    private let headerFields: [(name: [UInt8], value: Range<Int>)]

    /// `target` may carry a query string (`/p?user=1`); header names are lowercased here.
    init(_ target: String, headers: [(String, String)] = []) {
        var bytes = Array(target.utf8)
        let q = bytes.firstIndex(of: UInt8(ascii: "?"))
        pathRange = 0..<(q ?? bytes.count)
        queryRange = q.map { ($0 + 1)..<bytes.count }
        var fields: [(name: [UInt8], value: Range<Int>)] = []
        for (name, value) in headers {
            let start = bytes.count
            bytes += Array(value.utf8)
            fields.append((Array(name.lowercased().utf8), start..<bytes.count))
        }
        headerFields = fields
        storage = .allocate(byteCount: max(bytes.count, 1), alignment: 1)
        storage.copyBytes(from: bytes)
    }

    deinit { storage.deallocate() }

    private func slice(_ r: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[r])
    }

    var path: UnsafeRawBufferPointer { slice(pathRange) }

    var rawQuery: UnsafeRawBufferPointer? { queryRange.map(slice) }

    func header(_ lowercasedName: [UInt8]) -> UnsafeRawBufferPointer? {
        for f in headerFields where f.name == lowercasedName { return slice(f.value) }
        return nil
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

/// Backends `b0`, `b1`, ... on 127.0.0.1:8500+i.
func makeBackends(_ count: Int) -> [Backend] {
    (0..<count).map { Backend(name: "b\($0)", endpoints: [Endpoint(host: "127.0.0.1", port: UInt16(8500 + $0))]) }
}
