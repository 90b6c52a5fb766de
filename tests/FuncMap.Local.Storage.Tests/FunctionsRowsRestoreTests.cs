using System.Net;
using System.Net.Http.Json;
using FuncMap.Counters;
using FuncMap.Journal;
using FuncMap.Storage;
using FuncMap.Testing;

namespace FuncMap.Local.Storage.Tests;

/// <summary>
/// The way back (issue 20, item 3): a local host started on storage the Functions app snapshotted restores its rows
/// exactly. The rows are written the way the app's snapshot writes them (<c>CounterSnapshotter</c>: the shared writer,
/// unfenced, rows from the entities' <see cref="CounterState"/>): no fence rows, no epochs, operation windows with
/// fingerprints, deleted counters' rows removed.
/// </summary>
[Collection(StorageTestGroup.Name)]
public sealed class FunctionsRowsRestoreTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset At = new(2026, 12, 3, 11, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Start_OnTheFunctionsAppsRows_ServesThemExactlyAndRetriedIdempotencyKeysAreReplays()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await setup.Table.CreateIfNotExistsAsync();
        var states = Enumerable.Range(0, 300).ToDictionary(
            static i => "fn:" + i.ToString(System.Globalization.CultureInfo.InvariantCulture),
            static i => new CounterState
            {
                Value = (i * 104_729L) - 10_000_000, Version = 1 + i, UpdatedAt = At.AddMilliseconds(i), Exists = true,
                RecentOperationIds = [$"client-{i}\tadd:{i + 1}", $"made-up-{i}\treset"],
            });
        states["fn:max"] = new CounterState { Value = long.MaxValue, Version = 9, UpdatedAt = At, Exists = true };
        var writer = new CounterSnapshotWriter(setup.Table, 8);
        await writer.WriteAsync(states.Select(static s => CounterRow.From(s.Key, s.Value)), CancellationToken.None);
        // A counter deleted on the app: its tombstone's snapshot removes the row.
        states["fn:gone"] = new CounterState { Value = 4, Version = 2, UpdatedAt = At, Exists = true };
        await writer.WriteAsync([CounterRow.From("fn:gone", states["fn:gone"])], CancellationToken.None);
        await writer.WriteAsync([CounterRow.From("fn:gone", new CounterState { Version = 3, UpdatedAt = At, Exists = false })], CancellationToken.None);
        states.Remove("fn:gone");
        var rows = await setup.ReadTableAsync();
        Assert.Equal(states.Count, rows.Count);
        Assert.All(rows.Values, static r => Assert.False(r.ContainsKey(CounterRows.Epoch)));

        await using var host = setup.Start();
        await host.WaitReadyAsync();

        foreach (var (key, state) in states)
        {
            Assert.Equal(new CounterDto(key, state.Value, state.Version, state.UpdatedAt), await host.GetAsync(key));
        }

        Assert.Null(await host.GetAsync("fn:gone"));

        // The app's windows came along: a client retrying its key after the move gets a replay, another request under it a 422.
        var replay = await host.AddAsync("fn:7", 8, idempotencyKey: "client-7");
        Assert.Equal((states["fn:7"].Value, states["fn:7"].Version), (replay.Value, replay.Version));
        using var reused = new HttpRequestMessage(HttpMethod.Post, "/api/counters/fn:7/add?wait=true") { Content = JsonContent.Create(new { delta = 9 }) };
        reused.Headers.Add("Idempotency-Key", "client-7");
        using var refused = await host.Client.SendAsync(reused);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("idempotency.mismatch", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // And a new write goes on from the app's version.
        var next = await host.AddAsync("fn:7", 1, idempotencyKey: "after-move");
        Assert.Equal((states["fn:7"].Value + 1, states["fn:7"].Version + 1), (next.Value, next.Version));
    }
}
