import Testing
import SluiceCore
@testable import SluiceHTTP2

@Suite struct ExchangeTests {
    @Test func getWithoutBody() {
        let pair = Pair()
        pair.serverHandler.onHead = { [unowned pair] id, endStream in
            #expect(endStream)
            var h = H2HeaderBlock()
            h.append(name: "content-type", value: "text/plain")
            #expect(pair.server.submitResponse(stream: id, status: 200, headers: h, endStream: false))
            let body: StaticString = "hello"
            #expect(pair.server.enqueueData(stream: id, bytes: UnsafeRawBufferPointer(start: body.utf8Start, count: 5)))
            #expect(pair.server.finishData(stream: id))
        }
        let id = pair.client.submitRequest(headers: getRequest(), endStream: true)
        #expect(id == 1)
        pair.pump()
        #expect(pair.serverHandler.header(1, ":method") == "GET")
        #expect(pair.serverHandler.header(1, ":path") == "/x")
        #expect(pair.serverHandler.ended.contains(1))
        #expect(pair.clientHandler.header(1, ":status") == "200")
        #expect(pair.clientHandler.header(1, "content-type") == "text/plain")
        #expect(pair.clientHandler.body[1] == Array("hello".utf8))
        #expect(pair.clientHandler.ended.contains(1))
        #expect(pair.clientHandler.closed[1] == 0)
        #expect(pair.serverHandler.closed[1] == 0)
        #expect(pair.client.openStreams == 0 && pair.server.openStreams == 0)
        // The client consumes what it forwarded; the server only needed no DATA window back.
        pair.client.consume(stream: 1, 5)
        pair.pump()
        #expect(pair.client.wantsRead && pair.server.wantsRead)
    }

    @Test func responseTrailersArriveAsTrailingHeaderBlock() {
        let pair = Pair()
        pair.serverHandler.onHead = { [unowned pair] id, _ in
            var h = H2HeaderBlock()
            h.append(name: "content-type", value: "application/grpc")
            pair.server.submitResponse(stream: id, status: 200, headers: h, endStream: false)
            let msg: [UInt8] = [0, 0, 0, 0, 2, 8, 1]
            msg.withUnsafeBytes { _ = pair.server.enqueueData(stream: id, bytes: $0) }
            var t = H2HeaderBlock()
            t.append(name: "grpc-status", value: "0")
            t.append(name: "grpc-message", value: "ok")
            pair.server.finishData(stream: id, trailers: t)
        }
        var req = postRequest()
        req.append(name: "te", value: "trailers")
        let id = pair.client.submitRequest(headers: req, endStream: false)
        pair.client.finishData(stream: id)
        pair.pump()
        #expect(pair.clientHandler.header(id, ":status") == "200")
        #expect(pair.clientHandler.body[id]?.count == 7)
        let trailers = pair.clientHandler.trailers[id] ?? []
        #expect(trailers.count == 2)
        #expect(trailers.first { $0.0 == "grpc-status" }?.1 == "0")
        #expect(trailers.first { $0.0 == "grpc-message" }?.1 == "ok")
        #expect(pair.clientHandler.ended.contains(id))
        #expect(pair.clientHandler.closed[id] == 0)
    }

    /// nghttp2 reads a response head's fields from the block's storage when it writes the frame
    /// (no copy at submit): clearing and refilling the block for the next response before the
    /// flush must not change what the first one sends.
    @Test func responseHeadIsSentAsSubmittedWhenTheBlockIsReusedBeforeTheFlush() {
        let pair = Pair()
        var block = H2HeaderBlock()
        var answered = 0
        pair.serverHandler.onHead = { [unowned pair] id, _ in
            answered += 1
            block.removeAll()
            block.appendLowercasingName(name: H2HeaderBlock.raw("X-Answer"), value: H2HeaderBlock.raw(answered == 1 ? "first" : "second"))
            block.append(name: "content-type", value: answered == 1 ? "text/plain" : "application/json")
            #expect(pair.server.submitResponse(stream: id, status: answered == 1 ? 200 : 404, headers: block, endStream: true))
        }
        let a = pair.client.submitRequest(headers: getRequest(path: "/a"), endStream: true)
        let b = pair.client.submitRequest(headers: getRequest(path: "/b"), endStream: true)
        // Both requests reach the server in one read: both heads are submitted before it writes.
        #expect(pair.clientToServer() > 0)
        #expect(answered == 2)
        block.removeAll()
        block.append(name: "x-answer", value: "overwritten")
        pair.pump()
        #expect(pair.clientHandler.header(a, ":status") == "200")
        #expect(pair.clientHandler.header(a, "x-answer") == "first")
        #expect(pair.clientHandler.header(a, "content-type") == "text/plain")
        #expect(pair.clientHandler.header(b, ":status") == "404")
        #expect(pair.clientHandler.header(b, "x-answer") == "second")
        #expect(pair.clientHandler.header(b, "content-type") == "application/json")
        #expect(pair.client.openStreams == 0 && pair.server.openStreams == 0)
    }

    /// A head submitted for a stream its client resets before the server writes is dropped,
    /// and the storage it pointed into is let go with the stream.
    @Test func aResetStreamsUnsentHeadIsDropped() {
        let pair = Pair()
        pair.serverHandler.onHead = { [unowned pair] id, _ in
            var h = H2HeaderBlock()
            h.append(name: "x-gone", value: "never sent")
            #expect(pair.server.submitResponse(stream: id, status: 200, headers: h, endStream: false))
        }
        let a = pair.client.submitRequest(headers: postRequest(), endStream: false)
        // The server submits its head on the request's HEADERS; the client's RST_STREAM comes in
        // before the server writes anything, and closes the stream.
        #expect(pair.clientToServer() > 0)
        #expect(pair.server.openStreams == 1)
        pair.client.resetStream(a, errorCode: H2ErrorCode.cancel)
        #expect(pair.clientToServer() > 0)
        #expect(pair.serverHandler.closed[a] == H2ErrorCode.cancel)
        #expect(pair.server.openStreams == 0)
        pair.pump()
        #expect(frames(pair.serverBytes).filter { $0.type == 1 }.isEmpty)
        #expect(pair.clientHandler.header(a, "x-gone") == nil)
        // The session goes on serving.
        pair.serverHandler.onHead = { [unowned pair] id, _ in
            var h = H2HeaderBlock()
            h.append(name: "x-next", value: "yes")
            pair.server.submitResponse(stream: id, status: 200, headers: h, endStream: true)
        }
        let b = pair.client.submitRequest(headers: getRequest(), endStream: true)
        pair.pump()
        #expect(pair.clientHandler.header(b, "x-next") == "yes")
    }

    /// `resetAfterEnd`: the RST_STREAM follows the frame that ends the answer (never overtakes
    /// it), and only while the client's half is still open.
    @Test func resetAfterEndFollowsTheAnswerOnlyWhileTheClientStillSends() {
        let pair = Pair()
        pair.serverHandler.onHead = { [unowned pair] id, endStream in
            var h = H2HeaderBlock()
            h.append(name: "content-type", value: "application/grpc")
            #expect(pair.server.submitResponse(stream: id, status: 200, headers: h, endStream: false))
            var t = H2HeaderBlock()
            t.append(name: "grpc-status", value: "4")
            #expect(pair.server.finishData(stream: id, trailers: t))
            pair.server.resetAfterEnd(stream: id, errorCode: H2ErrorCode.noError)
        }
        // Still sending: head, trailers, then the reset.
        let open = pair.client.submitRequest(headers: postRequest(), endStream: false)
        pair.pump()
        let sent = frames(pair.serverBytes).filter { $0.stream == UInt32(open) }.map(\.type)
        #expect(sent == [1, 1, 3], "frames on the still-sending stream: \(sent)")
        #expect(pair.clientHandler.trailers[open]?.first { $0.0 == "grpc-status" }?.1 == "4")
        #expect(pair.clientHandler.closed[open] == H2ErrorCode.noError)
        #expect(pair.server.openStreams == 0 && pair.client.openStreams == 0)
        // Request already complete: no reset after the trailers.
        let done = pair.client.submitRequest(headers: getRequest(), endStream: true)
        pair.pump()
        let after = frames(pair.serverBytes).filter { $0.stream == UInt32(done) }.map(\.type)
        #expect(after == [1, 1], "frames on the finished stream: \(after)")
        #expect(pair.clientHandler.closed[done] == 0)
        #expect(pair.server.resetsAfterEnd == 0)
    }

    @Test func postOneMiBWithConsumeBasedFlowControl() {
        let total = 1 << 20
        let piece = 64 * 1024
        let pair = Pair()
        var chunk = [UInt8](repeating: 0, count: piece)
        for i in 0..<piece { chunk[i] = UInt8(truncatingIfNeeded: i &* 31) }
        var sent = 0
        var consumeAsReceived = false
        let id = pair.client.submitRequest(headers: postRequest(), endStream: false)
        #expect(id > 0)
        // The body is fed as the session asks for it, one piece per stall.
        pair.clientHandler.onWantsData = { [unowned pair] sid in
            guard sent < total else { return }
            chunk.withUnsafeBytes { _ = pair.client.enqueueData(stream: sid, bytes: $0) }
            sent += piece
            if sent >= total { pair.client.finishData(stream: sid) }
        }
        pair.serverHandler.onData = { [unowned pair] sid, n in
            if consumeAsReceived { pair.server.consume(stream: sid, n) }
        }
        pair.pump()
        // Nobody consumed: the sender stalls at the server's 65535-byte stream window.
        #expect(pair.serverHandler.body[id]?.count == 65535)
        #expect(pair.client.outboundQueued(stream: id) > 0)
        #expect(!pair.client.wantsWrite)
        #expect(pair.clientToServer() == 0)
        // Consume what arrived so far, then everything as it arrives: the body completes.
        pair.server.consume(stream: id, 65535)
        consumeAsReceived = true
        pair.pump()
        let received = pair.serverHandler.body[id] ?? []
        #expect(received.count == total)
        #expect(pair.serverHandler.ended.contains(id))
        #expect(received[piece + 5] == chunk[5])
        #expect(pair.client.outboundQueued(stream: id) == 0)
        #expect(pair.clientHandler.wantsData.count >= total / piece)
        // The server answers; the stream closes cleanly on both sides.
        var h = H2HeaderBlock()
        h.append(name: "content-length", value: "0")
        pair.server.submitResponse(stream: id, status: 204, headers: h, endStream: true)
        pair.pump()
        #expect(pair.clientHandler.header(id, ":status") == "204")
        #expect(pair.clientHandler.closed[id] == 0)
        #expect(pair.serverHandler.closed[id] == 0)
    }

    @Test func submitRequestBeyondPeerMaxConcurrentStreams() {
        let pair = Pair(server: H2Limits(maxConcurrentStreams: 2))
        pair.pump()  // SETTINGS exchange
        #expect(pair.client.remoteMaxConcurrentStreams == 2)
        let a = pair.client.submitRequest(headers: getRequest(), endStream: true)
        let b = pair.client.submitRequest(headers: getRequest(), endStream: true)
        let c = pair.client.submitRequest(headers: getRequest(), endStream: true)
        #expect(a == 1 && b == 3)
        #expect(c < 0)
        #expect(pair.client.openStreams == 2)
        pair.pump()
        #expect(pair.server.openStreams == 2)
        // Once one completes, a new stream can be opened.
        pair.server.submitResponse(stream: a, status: 200, headers: H2HeaderBlock(), endStream: true)
        pair.pump()
        #expect(pair.client.submitRequest(headers: getRequest(), endStream: true) == 5)
    }

    @Test func clientAssumesOwnLimitBeforeServerSettings() {
        let pair = Pair(client: H2Limits(maxConcurrentStreams: 3))
        #expect(pair.client.remoteMaxConcurrentStreams == 3)
    }

    @Test func headerListOverCapResetsStream() {
        let pair = Pair(server: H2Limits(maxHeaderListBytes: 4096, maxHeaderCount: 20))
        var big = getRequest()
        big.append(name: "x-big", value: String(repeating: "a", count: 5000))
        let s1 = pair.client.submitRequest(headers: big, endStream: true)
        var many = getRequest(path: "/many")
        for i in 0..<30 { many.append(name: "x-h\(i)", value: "v") }
        let s2 = pair.client.submitRequest(headers: many, endStream: true)
        let s3 = pair.client.submitRequest(headers: getRequest(path: "/ok"), endStream: true)
        pair.serverHandler.onHead = { [unowned pair] id, _ in
            pair.server.submitResponse(stream: id, status: 200, headers: H2HeaderBlock(), endStream: true)
        }
        pair.pump()
        #expect(pair.serverHandler.limits == ["header_list_too_large", "too_many_headers"])
        #expect(pair.serverHandler.headers[s1] == nil && pair.serverHandler.headers[s2] == nil)
        let resets = frames(pair.serverBytes).filter { $0.type == 3 }
        #expect(Set(resets.map { $0.stream }) == [UInt32(s1), UInt32(s2)])
        #expect(pair.clientHandler.closed[s1] == H2ErrorCode.internalError)
        #expect(pair.clientHandler.closed[s2] == H2ErrorCode.internalError)
        // The connection survives: HPACK state stayed in sync and the next stream works.
        #expect(pair.clientHandler.header(s3, ":status") == "200")
        #expect(!pair.serverReceiveFailed)
    }

    @Test func serverAdvertisesSettingsAndConnectionWindow() {
        let pair = Pair()
        pair.pump()
        let fs = frames(pair.serverBytes)
        let settings = fs.first { $0.type == 4 && $0.flags & 1 == 0 }
        #expect(settings != nil)
        var ids: Set<UInt16> = []
        if let p = settings.map({ Array($0.payload) }) {
            for i in stride(from: 0, to: p.count, by: 6) { ids.insert(UInt16(p[i]) << 8 | UInt16(p[i + 1])) }
        }
        #expect(ids.isSuperset(of: [0x3, 0x4, 0x6]))  // MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_HEADER_LIST_SIZE
        let wu = fs.first { $0.type == 8 && $0.stream == 0 }
        let p: [UInt8] = wu.map { Array($0.payload) } ?? [0, 0, 0, 0]
        let b0 = Int(p[0] & 0x7f) << 24
        let b1 = Int(p[1]) << 16
        let b2 = Int(p[2]) << 8
        let inc = b0 | b1 | b2 | Int(p[3])
        #expect(inc == (1 << 20) - 65535)
    }

    @Test func gracefulGoAwayLetsInFlightStreamFinish() {
        let pair = Pair()
        let id = pair.client.submitRequest(headers: getRequest(), endStream: true)
        pair.pump()
        pair.server.goAway()
        pair.pump()
        #expect(pair.clientHandler.goAway?.lastStream == id)
        #expect(pair.clientHandler.goAway?.errorCode == 0)
        #expect(pair.client.submitRequest(headers: getRequest(), endStream: true) < 0)
        pair.server.submitResponse(stream: id, status: 200, headers: H2HeaderBlock(), endStream: true)
        pair.pump()
        #expect(pair.clientHandler.header(id, ":status") == "200")
        #expect(!pair.server.wantsRead && !pair.server.wantsWrite)
        #expect(!pair.serverReceiveFailed)
    }
}
