using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FastRmp.Cli.Tests.Browser;

/// <summary>
/// A minimal Chrome DevTools Protocol client over one WebSocket to the browser: commands with ids (optionally to a
/// flattened target session), and the events the tests need (page load, console errors, uncaught exceptions, log
/// errors). Every wait takes the caller's cancellation token.
/// </summary>
internal sealed class DevToolsSession : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    private TaskCompletionSource _loaded = NewSignal();
    private int _nextId;

    /// <summary>Console errors, uncaught exceptions and error log entries seen so far.</summary>
    public IReadOnlyCollection<string> Errors => _errors;

    public static async Task<DevToolsSession> ConnectAsync(Uri endpoint, CancellationToken cancel)
    {
        var session = new DevToolsSession();
        session._socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await session._socket.ConnectAsync(endpoint, cancel);
        session._reader = Task.Run(() => session.ReadLoopAsync(session._stop.Token), CancellationToken.None);
        return session;
    }

    /// <summary>Sends a command and returns its result; a protocol error is an exception.</summary>
    public async Task<JsonElement> SendAsync(string method, JsonObject? parameters, string? sessionId, CancellationToken cancel)
    {
        int id = Interlocked.Increment(ref _nextId);
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? [] };
        if (sessionId is not null)
        {
            message["sessionId"] = sessionId;
        }

        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        byte[] bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, cancel);
        return await reply.Task.WaitAsync(cancel);
    }

    /// <summary>Navigates the session's page and waits for its load event.</summary>
    public async Task NavigateAsync(string sessionId, Uri url, CancellationToken cancel)
    {
        _loaded = NewSignal();
        var result = await SendAsync("Page.navigate", new JsonObject { ["url"] = url.AbsoluteUri }, sessionId, cancel);
        if (result.TryGetProperty("errorText", out var error))
        {
            throw new InvalidOperationException($"Page.navigate to {url}: {error.GetString()}");
        }

        await _loaded.Task.WaitAsync(cancel);
    }

    /// <summary>Evaluates an expression that yields a string (e.g. JSON.stringify(...)) and returns it.</summary>
    public async Task<string> EvaluateAsync(string sessionId, string expression, CancellationToken cancel)
    {
        var result = await SendAsync(
            "Runtime.evaluate",
            new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true },
            sessionId,
            cancel);
        if (result.TryGetProperty("exceptionDetails", out var details))
        {
            throw new InvalidOperationException($"The page threw: {details}");
        }

        return result.GetProperty("result").GetProperty("value").GetString() ?? string.Empty;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            if (_socket.State == WebSocketState.Open)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // the browser may already be gone
        }

        _socket.Abort();
        await _reader.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _socket.Dispose();
        _stop.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task ReadLoopAsync(CancellationToken cancel)
    {
        var buffer = new byte[1 << 16];
        using var message = new MemoryStream();
        try
        {
            while (!cancel.IsCancellationRequested && _socket.State == WebSocketState.Open)
            {
                var received = await _socket.ReceiveAsync(buffer, cancel);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage)
                {
                    continue;
                }

                using (var doc = JsonDocument.Parse(message.ToArray()))
                {
                    Dispatch(doc.RootElement);
                }

                message.SetLength(0);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // closed
        }
        finally
        {
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new WebSocketException("The DevTools connection closed."));
            }
        }
    }

    private void Dispatch(JsonElement root)
    {
        if (root.TryGetProperty("id", out var idElement))
        {
            if (_pending.TryRemove(idElement.GetInt32(), out var reply))
            {
                if (root.TryGetProperty("error", out var error))
                {
                    reply.TrySetException(new InvalidOperationException($"DevTools error: {error}"));
                }
                else
                {
                    reply.TrySetResult(root.GetProperty("result").Clone());
                }
            }

            return;
        }

        string method = root.GetProperty("method").GetString() ?? string.Empty;
        var p = root.TryGetProperty("params", out var value) ? value : default;
        switch (method)
        {
            case "Page.loadEventFired":
                _loaded.TrySetResult();
                break;
            case "Runtime.consoleAPICalled" when p.GetProperty("type").GetString() is "error" or "assert":
                _errors.Enqueue($"console.error: {p.GetProperty("args")}");
                break;
            case "Runtime.exceptionThrown":
                _errors.Enqueue($"exception: {p.GetProperty("exceptionDetails")}");
                break;
            case "Log.entryAdded" when p.GetProperty("entry").GetProperty("level").GetString() == "error":
                _errors.Enqueue($"log: {p.GetProperty("entry").GetProperty("text").GetString()}");
                break;
        }
    }
}
