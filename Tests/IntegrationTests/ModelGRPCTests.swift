import Foundation
import SluiceCore
import Testing

extension Integration {
    /// gRPC routed by the model named in the first message: python grpcio clients of a KServe v2
    /// `ModelInfer` server (model_name, field 1) and a TF Serving `Predict` server (model_spec.name),
    /// with stubs compiled at test time by grpcio-tools from the protos below (the messages' public
    /// field numbers, only the fields these tests use).
    @Suite struct ModelGRPC {
        static let kserveProto = """
            syntax = "proto3";
            package inference;
            message ModelInferRequest {
              string model_name = 1;
              string model_version = 2;
              string id = 3;
              repeated bytes raw_input_contents = 7;
            }
            message ModelInferResponse {
              string model_name = 1;
              string model_version = 2;
              string id = 3;
            }
            service GRPCInferenceService {
              rpc ModelInfer(ModelInferRequest) returns (ModelInferResponse) {}
            }
            """

        static let tfProto = """
            syntax = "proto3";
            package tensorflow.serving;
            message ModelSpec {
              string name = 1;
              string signature_name = 3;
            }
            message PredictRequest { ModelSpec model_spec = 1; }
            message PredictResponse { ModelSpec model_spec = 2; }
            service PredictionService {
              rpc Predict(PredictRequest) returns (PredictResponse) {}
            }
            """

        /// Two servers, "v1" and "v2", each answering ModelInfer with its version and the number of
        /// raw input bytes it received, and Predict with its version as the signature name.
        static func serverScript(_ dir: String) -> String {
            #"""
            import sys; sys.path.insert(0, '\#(dir)')
            import threading, grpc
            from concurrent import futures
            import kserve_pb2 as k, kserve_pb2_grpc as kg, tf_pb2 as t, tf_pb2_grpc as tg
            def serve(version):
                class Infer(kg.GRPCInferenceServiceServicer):
                    def ModelInfer(self, req, ctx):
                        size = sum(len(c) for c in req.raw_input_contents)
                        return k.ModelInferResponse(model_name=req.model_name, model_version=version, id='%s:%d' % (req.id, size))
                class Predict(tg.PredictionServiceServicer):
                    def Predict(self, req, ctx):
                        return t.PredictResponse(model_spec=t.ModelSpec(name=req.model_spec.name, signature_name=version))
                s = grpc.server(futures.ThreadPoolExecutor(8))
                kg.add_GRPCInferenceServiceServicer_to_server(Infer(), s)
                tg.add_PredictionServiceServicer_to_server(Predict(), s)
                port = s.add_insecure_port('127.0.0.1:0')
                s.start()
                return s, port
            servers = [serve('v1'), serve('v2')]
            print(' '.join(str(p) for _, p in servers), flush=True)
            threading.Event().wait(120)
            """#
        }

        /// The client: 1,000 ModelInfer calls for `fraud-detector` (every 100th with a 200 KB
        /// tensor), counted by the version that answered; TF Predict for `resnet`; an unknown
        /// model; a request naming none. Prints one JSON line.
        static func clientScript(_ dir: String) -> String {
            #"""
            import sys; sys.path.insert(0, '\#(dir)')
            import json, grpc
            import kserve_pb2 as k, kserve_pb2_grpc as kg, tf_pb2 as t, tf_pb2_grpc as tg
            ch = grpc.insecure_channel('127.0.0.1:%s' % sys.argv[1])
            infer = kg.GRPCInferenceServiceStub(ch).ModelInfer
            counts = {}
            for i in range(1000):
                raw = [b'\x01' * 200000] if i % 100 == 0 else [b'\x02\x03']
                r = infer(k.ModelInferRequest(model_name='fraud-detector', id='r%d' % i, raw_input_contents=raw), timeout=10)
                assert r.model_name == 'fraud-detector' and r.id == 'r%d:%d' % (i, len(raw[0])), r
                counts[r.model_version] = counts.get(r.model_version, 0) + 1
            p = tg.PredictionServiceStub(ch).Predict(t.PredictRequest(model_spec=t.ModelSpec(name='resnet')), timeout=10)
            codes = {}
            for name, req in [('unknown', k.ModelInferRequest(model_name='nope')), ('unnamed', k.ModelInferRequest(id='x'))]:
                try:
                    infer(req, timeout=10)
                    codes[name] = 'OK'
                except grpc.RpcError as e:
                    codes[name] = e.code().name + ': ' + (e.details() or '')
            print(json.dumps({'counts': counts, 'resnet': p.model_spec.signature_name, 'codes': codes}))
            """#
        }

        @Test(.timeLimit(.minutes(2)))
        func modelInferSplitNinetyTenByModelName() throws {
            let dir = NSTemporaryDirectory() + "model-grpc-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try Self.kserveProto.write(toFile: dir + "/kserve.proto", atomically: true, encoding: .utf8)
            try Self.tfProto.write(toFile: dir + "/tf.proto", atomically: true, encoding: .utf8)
            let protoc = try Command.run("python3", ["-m", "grpc_tools.protoc", "-I", dir, "--python_out=\(dir)",
                                                     "--grpc_python_out=\(dir)", dir + "/kserve.proto", dir + "/tf.proto"])
            try #require(protoc.status == 0, "protoc: \(protoc.stderr)")

            let server = try PythonServer(script: Self.serverScript(dir))
            defer { server.stop() }
            let ports = server.firstLine.split(separator: " ").compactMap { UInt16($0) }
            try #require(ports.count == 2, "servers printed '\(server.firstLine)'")
            let p = try SluiceProcess(yaml: """
                workers: 2
                listeners: [{ name: t, address: 127.0.0.1:{LISTEN} }]
                admin: { address: 127.0.0.1:{ADMIN} }
                backends:
                  - { name: fraud-v1, endpoints: [127.0.0.1:\(ports[0])], protocol: h2 }
                  - { name: fraud-v2, endpoints: [127.0.0.1:\(ports[1])], protocol: h2 }
                routes:
                  - name: fraud
                    match: { model: fraud-detector }
                    baseline: fraud-v1
                    targets: [{ backend: fraud-v1, weight: 90 }, { backend: fraud-v2, weight: 10 }]
                  - { name: resnet, match: { model: resnet }, targets: [{ backend: fraud-v2, weight: 100 }] }
                """)
            defer { p.stop() }

            let r = try Command.run("python3", ["-c", Self.clientScript(dir), "\(p.port)"], timeout: 90)
            try #require(r.status == 0, "\(r.stdout)\(r.stderr)")
            let out = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
            let counts = out["counts"] as? [String: Int] ?? [:]
            #expect((counts["v1"] ?? 0) + (counts["v2"] ?? 0) == 1000, "\(counts)")
            // 10 % of 1,000: 100 expected, sd ≈ 9.5; 60...140 is over four sd either way.
            #expect((60...140).contains(counts["v2"] ?? 0), "\(counts)")
            #expect(out["resnet"] as? String == "v2")
            let codes = out["codes"] as? [String: String] ?? [:]
            #expect(codes["unknown"]?.hasPrefix("UNIMPLEMENTED") == true, "\(codes)")
            #expect(codes["unnamed"]?.hasPrefix("INTERNAL") == true && codes["unnamed"]?.contains("does not name a model") == true, "\(codes)")

            // /stats and /metrics carry the model next to the route.
            let fraud = try p.routeStats("fraud")
            #expect(fraud["model"] as? String == "fraud-detector")
            let metrics = try p.adminGet("/metrics").text
            #expect(metrics.contains(#"sluice_requests_total{route="fraud",model="fraud-detector",target="fraud-v2"} \#(counts["v2"] ?? -1)"#), "\(metrics.prefix(2000))")
            #expect(metrics.contains(#"sluice_requests_total{route="resnet",model="resnet",target="fraud-v2"} 1"#))
            #expect(metrics.contains("sluice_model_not_found_total 1"), "the unnamed request")
        }
    }
}
