import Foundation
import Glibc
import SluiceCore
import SluiceTLS

/// A one-thread blocking-socket HTTPS server on 127.0.0.1 (port 0) that drives
/// TLSConnection with a feed/drain loop and answers every request with "hello".
final class BlockingTLSServer: Sendable {
    /// The listening socket; written once in init, shut down by `stop`.
    let listenFD: Int32
    /// The port the kernel chose.
    let port: UInt16

    init(context: TLSContext) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                precondition(bind(fd, $0, length) == 0)
                precondition(getsockname(fd, $0, &length) == 0)
            }
        }
        precondition(listen(fd, 16) == 0)
        listenFD = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [fd] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { break }
                Self.serve(client, context: context)
            }
            close(fd)
        }
    }

    /// Wakes the accept loop so the thread closes the socket and exits.
    func stop() { Glibc.shutdown(listenFD, Int32(SHUT_RDWR)) }

    private static func serve(_ fd: Int32, context: TLSContext) {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let tls = TLSConnection(context: context)
        var output = ByteQueue(capacity: 16_384)
        var request = ByteQueue(capacity: 16_384)
        var input = [UInt8](repeating: 0, count: 16_384)
        defer { output.deallocate(); request.deallocate(); close(fd) }
        var answered = false
        while true {
            let n = input.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            input.withUnsafeBytes { tls.feedCiphertext(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            var status = tls.isHandshakeComplete ? .ok : tls.handshake()
            if case .ok = status {
                repeat { status = tls.readPlaintext(into: &request, max: 65_536).1 } while status.isOK
            }
            if !answered, containsHeaderEnd(request.readable) {
                answered = true
                let response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
                _ = Array(response.utf8).withUnsafeBytes { tls.writePlaintext($0) }
                tls.shutdown()
            }
            tls.drainCiphertext(into: &output)
            while !output.isEmpty {
                let sent = send(fd, output.readable.baseAddress, output.count, Int32(MSG_NOSIGNAL))
                if sent <= 0 { return }
                output.consume(sent)
            }
            switch status {
            case .closed, .failed: return
            case .ok, .wantRead: continue
            }
        }
    }

    private static func containsHeaderEnd(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4 else { return false }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return true
        }
        return false
    }
}
