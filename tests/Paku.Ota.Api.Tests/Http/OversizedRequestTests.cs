using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Http;

/// <summary>Oversized and malformed requests written byte by byte to a real socket of the real server: past the
/// configured limits (Ota:RequestLimits) the answer is problem+json naming the limit; what Kestrel still answers
/// itself, before the application runs (a request past twice a limit, a malformed header line), is pinned
/// here too so that a change of it is noticed.</summary>
[NonParallelizable]
public sealed class OversizedRequestTests
{
    private TestDatabase _db = null!;
    private RealServer _server = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_oversized");
        _server = await RealServer.StartAsync(_db.ConnectionString);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task A_request_target_past_the_limit_is_414_problem_json_naming_it()
    {
        var answer = await SendAsync($"GET /api/firmware/check?device_id={new string('a', 10_000)}&device_model=esp32 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        answer.AssertProblem(414, "Ota:RequestLimits:MaxUrlBytes");
    }

    [Test]
    public async Task Header_fields_past_the_byte_limit_are_431_problem_json_naming_it()
    {
        var answer = await SendAsync($"GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: {new string('b', 40_000)}\r\nConnection: close\r\n\r\n");

        answer.AssertProblem(431, "Ota:RequestLimits:MaxHeaderBytes");
    }

    [Test]
    public async Task Header_fields_past_the_count_limit_are_431_problem_json_naming_it()
    {
        var headers = string.Concat(Enumerable.Range(0, 150).Select(i => $"X-Field-{i}: {i}\r\n"));

        var answer = await SendAsync($"GET /health HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n");

        answer.AssertProblem(431, "Ota:RequestLimits:MaxHeaderCount");
    }

    [Test]
    public async Task A_device_status_body_past_the_limit_is_413_problem_json_and_nothing_is_stored()
    {
        var body = "{\"device_id\":\"esp32_001\",\"firmware_version\":\"1.1.0\",\"status\":\"failed\",\"error_message\":\"" + new string('c', 100_000) + "\"}";

        var answer = await SendAsync(
            $"POST /api/device/esp32_001/update-status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}");

        answer.AssertProblem(413, "limit of 65,536 bytes (Ota:RequestLimits:MaxDeviceBodyBytes)");
        Assert.That(await new FleetData(_db).ScalarAsync<long>("select count(*) from device_update_status"), Is.Zero);
    }

    [Test]
    public async Task Past_twice_the_limit_Kestrel_answers_414_itself_with_an_empty_body()
    {
        var answer = await SendAsync($"GET /health?x={new string('a', 20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.That(answer.Status, Is.EqualTo(414), answer.Text);
        Assert.That(answer.Body, Is.Empty, "Kestrel refuses a request line past its own limit before the application runs");
    }

    [Test]
    public async Task A_malformed_header_line_is_answered_400_by_Kestrel_itself()
    {
        var answer = await SendAsync("GET /health HTTP/1.1\r\nHost: x\r\nThis is no header\r\n\r\n");

        Assert.That(answer.Status, Is.EqualTo(400), answer.Text);
        Assert.That(answer.Body, Is.Empty, "nothing of a request Kestrel cannot parse reaches the application");
    }

    private async Task<RawAnswer> SendAsync(string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, _server.HttpPort);
        await using var stream = client.GetStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        }
        catch (IOException)
        {
            // the server may answer and close before it has read all of an oversized request
        }

        var received = new MemoryStream();
        var buffer = new byte[16384];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // a reset after the answer, when the server closed with unread request bytes
        }

        return RawAnswer.Parse(Encoding.UTF8.GetString(received.ToArray()));
    }

    private sealed record RawAnswer(int Status, string Headers, string Body, string Text)
    {
        public static RawAnswer Parse(string text)
        {
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            Assert.That(end, Is.GreaterThan(0), $"no HTTP answer: '{text}'");
            var head = text[..end];
            var status = int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            var body = text[(end + 4)..];
            if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
            {
                body = Dechunk(body);
            }

            return new RawAnswer(status, head, body, text);
        }

        public void AssertProblem(int status, string detailMentions)
        {
            Assert.That(Status, Is.EqualTo(status), Text);
            Assert.That(Headers, Does.Contain("Content-Type: application/problem+json"), Text);
            var problem = JsonDocument.Parse(Body).RootElement;
            Assert.That(problem.TryGetProperty("status", out var code) ? code.GetInt32() : 0, Is.EqualTo(status), Text);
            Assert.That(problem.TryGetProperty("detail", out var detail) ? detail.GetString() : "", Does.Contain(detailMentions), Text);
        }

        private static string Dechunk(string chunked)
        {
            var result = new StringBuilder();
            var at = 0;
            while (true)
            {
                var line = chunked.IndexOf("\r\n", at, StringComparison.Ordinal);
                var size = Convert.ToInt32(chunked[at..line], 16);
                if (size == 0)
                {
                    return result.ToString();
                }

                result.Append(chunked, line + 2, size);
                at = line + 2 + size + 2;
            }
        }
    }
}
