using System.Globalization;
using System.Text.Json;
using Npgsql;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Dashboards;

/// <summary>Every SQL query of the Grafana dashboard (deploy/grafana/dashboards/ota.json), taken from the
/// file as it is and run against the migrated schema holding known data: a fleet whose versions sort
/// differently as strings and as SemVer (1.9.0 / 1.10.0, pre-releases, a withdrawn newer release),
/// rollouts in every state and a dated status history. A PostgreSQL panel added to the dashboard
/// without expected figures here fails <see cref="Panel_sql_returns_the_expected_figures"/>.</summary>
[NonParallelizable]
public sealed class DashboardSqlTests
{
    private const string PostgresType = "grafana-postgresql-datasource";

    private TestDatabase _db = null!;

    /// <summary>date_trunc('hour', now()) when the status history was written; the history sits at
    /// fixed offsets from it, so hour buckets are known exactly.</summary>
    private DateTime _hour;

    [OneTimeSetUp]
    public async Task CreateAndSeedDatabase()
    {
        _db = await TestDatabase.CreateAsync("paku_test_dashboards");
        await using var c = await _db.DataSource.OpenConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        await using (var seed = new NpgsqlCommand(SeedSql, c, tx))
        {
            await seed.ExecuteNonQueryAsync();
        }

        await using (var hour = new NpgsqlCommand("select date_trunc('hour', now())", c, tx))
        {
            _hour = (DateTime)(await hour.ExecuteScalarAsync())!;
        }

        await tx.CommitAsync();
    }

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    public static IEnumerable<TestCaseData> SqlTargets() =>
        DashboardSql.Load(DashboardPath).Select(t => new TestCaseData(t).SetArgDisplayNames(t.Key));

    [TestCaseSource(nameof(SqlTargets))]
    public async Task Panel_sql_returns_the_expected_figures(DashboardSql target)
    {
        Assert.That(Expectations().TryGetValue(target.Key, out var expect), Is.True,
            $"The dashboard panel '{target.Key}' has SQL but no expected figures in {nameof(DashboardSqlTests)}: add them.");
        var result = await RunAsync(target.Sql);
        expect!(result);
    }

    [Test]
    public void Every_sql_panel_has_expected_figures_and_every_expectation_a_panel()
    {
        var panels = DashboardSql.Load(DashboardPath).Select(t => t.Key).ToList();

        Assert.That(panels, Is.Not.Empty);
        Assert.That(panels, Is.Unique, "panel titles (and refIds) identify the expectations");
        Assert.That(panels, Is.EquivalentTo(Expectations().Keys));
    }

    [Test]
    public void Every_postgres_target_is_plain_sql_that_runs_as_it_is()
    {
        foreach (var target in DashboardSql.Load(DashboardPath))
        {
            Assert.That(target.DatasourceType, Is.EqualTo(PostgresType), target.Key);
            Assert.That(target.Sql, Does.Not.Contain("$"), $"{target.Key}: Grafana macros and variables would not run as they are");
        }
    }

    private Dictionary<string, Action<QueryResult>> Expectations() => new()
    {
        ["Devices by firmware version"] = r =>
        {
            Assert.That(r.Columns, Is.EqualTo(new[] { "firmware", "device_model", "version", "devices" }));
            Assert.That(r.Lines("firmware", "devices"), Is.EqualTo(new[]
            {
                // per model, SemVer order newest first: string order would put 1.9.x above 1.10.0
                // and 2.1.0-beta.2 above 2.1.0-beta.10
                "esp32 1.11.0|1", "esp32 1.10.0|2", "esp32 1.10.0-rc.1|1", "esp32 1.9.1|1", "esp32 1.9.0|3",
                "esp32s3 3.0.0|1",
                "esp8266 2.1.0-beta.10|1", "esp8266 2.1.0-beta.2|1", "esp8266 2.0.0|1",
            }));
        },
        ["Update success rate (24 h)"] = r =>
        {
            Assert.That(r.Columns, Is.EqualTo(new[] { "status", "count", "percentage" }));
            // 24 h: 3 success, 1 failed, 1 rolled_back; older reports, downloading and confirmed do not count
            Assert.That(r.Lines(), Is.EqualTo(new[] { "success|3|60", "failed|1|20", "rolled_back|1|20" }));
        },
        ["Update activity per hour (7 days)"] = r =>
        {
            Assert.That(r.Columns, Is.EqualTo(new[] { "time", "metric", "count" }));
            Assert.That(r.Lines(), Is.EqualTo(new[]
            {
                "H-72|failed|1", "H-48|success|1", "H-5|rolled_back|1", "H-3|downloading|2", "H-3|failed|1",
                "H-2|success|2", "H-1|confirmed|1", "H-1|success|1",
            }), "hourly buckets of the last 7 days in time order; the report 8 days old is outside");
        },
        ["Devices needing updates"] = r =>
        {
            Assert.That(r.Columns, Is.EqualTo(new[] { "device_id", "device_model", "current_firmware_version", "latest_version", "last_seen" }));
            Assert.That(r.Lines("device_id", "current_firmware_version", "latest_version"), Is.EqualTo(new[]
            {
                // esp32's latest is 1.10.0: not the newest row (1.9.1), not the withdrawn 1.11.0;
                // 1.10.0-rc.1 precedes 1.10.0. esp8266's is 2.1.0-beta.10 (> beta.2). esp32s3 has
                // only a withdrawn release. Devices on 1.10.0, 1.11.0 and beta.10 are not behind.
                "esp32_001|1.9.0|1.10.0", "esp32_002|1.10.0-rc.1|1.10.0", "esp32_005|1.9.1|1.10.0",
                "esp8266_001|2.0.0|2.1.0-beta.10", "esp8266_002|2.1.0-beta.2|2.1.0-beta.10",
                "esp32_007|1.9.0|1.10.0", "esp32_008|1.9.0|1.10.0",
            }), "most recently seen first");
        },
        ["Rollout progress"] = r =>
        {
            Assert.That(r.Columns, Is.EqualTo(new[]
            {
                "rollout", "device_model", "firmware_version", "state", "target_type", "rollout_percentage", "devices",
                "offered", "downloading", "installing", "success", "confirmed", "failed", "rolled_back",
                "reported_success", "confirmed_percent", "failure_rate_percent", "last_progress",
            }));
            Assert.That(r.Lines("rollout", "state", "devices", "offered", "downloading", "installing", "success",
                "confirmed", "failed", "rolled_back", "reported_success", "confirmed_percent", "failure_rate_percent"), Is.EqualTo(new[]
            {
                // active first, newest first; the rollout unchanged for 60 days is left out.
                // failure rate = (failed + rolled back) / attempts (every device past "offered"), as the halt rule counts
                "esp32-1.10.0-lab|active|0|0|0|0|0|0|0|0|0|null|null",
                "esp32-1.10.0-canary|active|7|1|1|1|1|1|1|1|3|33.3|33.3",
                "esp32-1.11.0|halted|1|0|0|0|0|1|0|0|1|100|0",
                "esp8266-2.1.0-beta|paused|3|0|0|0|1|1|1|0|2|50|33.3",
            }));
            Assert.That(r.Lines("last_progress").Select(v => v == "null"), Is.EqualTo(new[] { true, false, false, false }));
        },
    };

    private async Task<QueryResult> RunAsync(string sql)
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, c);
        await using var reader = await command.ExecuteReaderAsync();
        var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            rows.Add(Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? null : reader.GetValue(i)).ToArray());
        }

        return new QueryResult(columns, rows, _hour);
    }

    private static string DashboardPath =>
        Path.Combine(TestContext.CurrentContext.TestDirectory, "deploy", "grafana", "dashboards", "ota.json");

    /// <summary>One SQL target of a dashboard panel. <see cref="Key"/> is the panel title, plus the
    /// refId when it is not the usual single "A".</summary>
    public sealed record DashboardSql(string Panel, string RefId, string? DatasourceType, string Sql)
    {
        public string Key => RefId == "A" ? Panel : $"{Panel} [{RefId}]";

        public override string ToString() => Key;

        /// <summary>Every target, in every panel (rows' nested panels included), that queries the
        /// PostgreSQL data source or carries rawSql.</summary>
        public static List<DashboardSql> Load(string path)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The dashboard is not in the test output; it is copied from deploy/grafana/dashboards: {path}", path);
            }

            using var json = JsonDocument.Parse(File.ReadAllText(path));
            var found = new List<DashboardSql>();
            Walk(json.RootElement, found);
            return found;
        }

        private static void Walk(JsonElement container, List<DashboardSql> found)
        {
            if (!container.TryGetProperty("panels", out var panels))
            {
                return;
            }

            foreach (var panel in panels.EnumerateArray())
            {
                var title = panel.TryGetProperty("title", out var t) ? t.GetString() ?? "" : "";
                var panelType = DatasourceTypeOf(panel);
                if (panel.TryGetProperty("targets", out var targets))
                {
                    foreach (var target in targets.EnumerateArray())
                    {
                        var type = DatasourceTypeOf(target) ?? panelType;
                        var sql = target.TryGetProperty("rawSql", out var s) ? s.GetString() : null;
                        if (type == PostgresType || sql is not null)
                        {
                            var refId = target.TryGetProperty("refId", out var r) ? r.GetString() ?? "A" : "A";
                            found.Add(new DashboardSql(title, refId, type, sql ?? ""));
                        }
                    }
                }

                Walk(panel, found);
            }
        }

        private static string? DatasourceTypeOf(JsonElement element) =>
            element.TryGetProperty("datasource", out var ds) && ds.ValueKind == JsonValueKind.Object &&
            ds.TryGetProperty("type", out var type)
                ? type.GetString()
                : null;
    }

    /// <summary>A query's columns and rows, with a compact text form for assertions: values joined
    /// by '|', numbers without trailing zeros, timestamps as whole hours before <c>hour</c> ("H-3").</summary>
    public sealed record QueryResult(string[] Columns, List<object?[]> Rows, DateTime Hour)
    {
        public IEnumerable<string> Lines(params string[] columns)
        {
            var picked = (columns.Length == 0 ? Columns : columns).Select(name =>
            {
                var index = Array.IndexOf(Columns, name);
                Assert.That(index, Is.GreaterThanOrEqualTo(0), $"column '{name}' is missing");
                return index;
            }).ToArray();
            return Rows.Select(row => string.Join('|', picked.Select(i => Format(row[i])))).ToList();
        }

        private string Format(object? value) => value switch
        {
            null => "null",
            decimal d => d.ToString("0.###", CultureInfo.InvariantCulture),
            DateTime t when (Hour - t).Ticks % TimeSpan.TicksPerHour == 0 => $"H-{(Hour - t).TotalHours:0}",
            DateTime t => t.ToString("O", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
    }

    private const string SeedSql = """
        insert into firmware_binaries (sha256, size_bytes, content)
        values (repeat('a', 64), 3, '\xe90102'), (repeat('b', 64), 4, '\xe9030405');

        -- esp32: 1.9.1 is the newest row but 1.10.0 the highest precedence; 1.11.0 is withdrawn.
        -- esp8266: 2.1.0-beta.10 > 2.1.0-beta.2 > 2.0.0. esp32s3: only a withdrawn release.
        insert into firmware_releases (version, device_model, checksum_sha256, size_bytes, created_at, withdrawn_at) values
          ('1.9.0',         'esp32',   repeat('a', 64), 3, now() - interval '30 days', null),
          ('1.10.0-rc.1',   'esp32',   repeat('b', 64), 4, now() - interval '20 days', null),
          ('1.10.0',        'esp32',   repeat('a', 64), 3, now() - interval '10 days', null),
          ('1.9.1',         'esp32',   repeat('b', 64), 4, now() - interval '2 days',  null),
          ('1.11.0',        'esp32',   repeat('a', 64), 3, now() - interval '1 day',   now() - interval '12 hours'),
          ('2.0.0',         'esp8266', repeat('a', 64), 3, now() - interval '10 days', null),
          ('2.1.0-beta.10', 'esp8266', repeat('b', 64), 4, now() - interval '6 days',  null),
          ('2.1.0-beta.2',  'esp8266', repeat('a', 64), 3, now() - interval '5 days',  null),
          ('3.0.0',         'esp32s3', repeat('b', 64), 4, now() - interval '3 days',  now() - interval '2 days');

        insert into devices (device_id, device_model, current_firmware_version, last_seen) values
          ('esp32_001',   'esp32',   '1.9.0',         now() - interval '1 hour'),
          ('esp32_002',   'esp32',   '1.10.0-rc.1',   now() - interval '2 hours'),
          ('esp32_003',   'esp32',   '1.10.0',        now() - interval '3 hours'),
          ('esp32_004',   'esp32',   '1.11.0',        now() - interval '30 hours'),
          ('esp32_005',   'esp32',   '1.9.1',         now() - interval '4 hours'),
          ('esp32_006',   'esp32',   '1.10.0',        now() - interval '26 hours'),
          ('esp32_007',   'esp32',   '1.9.0',         now() - interval '8 hours'),
          ('esp32_008',   'esp32',   '1.9.0',         now() - interval '9 hours'),
          ('esp8266_001', 'esp8266', '2.0.0',         now() - interval '5 hours'),
          ('esp8266_002', 'esp8266', '2.1.0-beta.2',  now() - interval '6 hours'),
          ('esp8266_003', 'esp8266', '2.1.0-beta.10', now() - interval '7 hours'),
          ('esp32s3_001', 'esp32s3', '3.0.0',         now() - interval '10 minutes');

        insert into rollouts (name, release_id, firmware_version, device_model, target_type, rollout_percentage,
                              is_active, pause_reason, halted_at, created_at, updated_at)
        select v.name, fr.id, fr.version, fr.device_model, v.target_type, v.pct, v.active, v.reason, v.halted, v.created, v.updated
        from (values
          ('esp32-1.10.0-canary', 'esp32',   '1.10.0',        'canary',   10,  true,  null,                 null::timestamptz,           now() - interval '9 days',  now() - interval '9 days'),
          ('esp8266-2.1.0-beta',  'esp8266', '2.1.0-beta.10', 'group',    100, false, 'paused by operator', null,                        now() - interval '5 days',  now() - interval '1 day'),
          ('esp32-1.11.0',        'esp32',   '1.11.0',        'all',      50,  false, 'failure threshold',  now() - interval '12 hours', now() - interval '1 day',   now() - interval '12 hours'),
          ('esp32-1.10.0-lab',    'esp32',   '1.10.0',        'specific', 100, true,  null,                 null,                        now() - interval '3 hours', now() - interval '3 hours'),
          ('esp32-1.9.0',         'esp32',   '1.9.0',         'all',      100, false, 'complete',           null,                        now() - interval '90 days', now() - interval '60 days')
        ) as v(name, model, version, target_type, pct, active, reason, halted, created, updated)
        join firmware_releases fr on fr.device_model = v.model and fr.version = v.version;

        insert into rollout_devices (rollout_id, device_id, status, progress, updated_at)
        select r.id, v.device_id, v.status, v.progress, now() - v.ago
        from (values
          ('esp32-1.10.0-canary', 'esp32_001',   'offered',       0, interval '6 hours'),
          ('esp32-1.10.0-canary', 'esp32_002',   'downloading',  40, interval '3 hours'),
          ('esp32-1.10.0-canary', 'esp32_005',   'installing',   90, interval '4 hours'),
          ('esp32-1.10.0-canary', 'esp32_003',   'confirmed',   100, interval '90 minutes'),
          ('esp32-1.10.0-canary', 'esp32_006',   'success',     100, interval '1 hour'),
          ('esp32-1.10.0-canary', 'esp32_007',   'failed',       30, interval '3 hours'),
          ('esp32-1.10.0-canary', 'esp32_008',   'rolled_back', 100, interval '5 hours'),
          ('esp8266-2.1.0-beta',  'esp8266_003', 'confirmed',   100, interval '2 days'),
          ('esp8266-2.1.0-beta',  'esp8266_001', 'failed',        0, interval '3 days'),
          ('esp8266-2.1.0-beta',  'esp8266_002', 'success',     100, interval '2 hours'),
          ('esp32-1.11.0',        'esp32_004',   'confirmed',   100, interval '20 hours'),
          ('esp32-1.9.0',         'esp32_001',   'confirmed',   100, interval '60 days')
        ) as v(rollout, device_id, status, progress, ago)
        join rollouts r on r.name = v.rollout;

        -- History at fixed offsets before the current whole hour, away from every window's edge.
        insert into device_update_status (device_id, firmware_version, status, progress_percent, source, reported_at)
        select v.device_id, v.version, v.status, v.progress, v.source, date_trunc('hour', now()) - v.before_hour
        from (values
          ('esp32_006',   '1.10.0',        'success',     100, 'device', interval '50 minutes'),
          ('esp32_003',   '1.10.0',        'confirmed',   100, 'server', interval '30 minutes'),
          ('esp32_003',   '1.10.0',        'success',     100, 'device', interval '110 minutes'),
          ('esp8266_002', '2.1.0-beta.10', 'success',     100, 'device', interval '100 minutes'),
          ('esp32_007',   '1.10.0',        'failed',       30, 'device', interval '175 minutes'),
          ('esp32_007',   '1.10.0',        'downloading',  10, 'device', interval '179 minutes'),
          ('esp32_002',   '1.10.0',        'downloading',  40, 'device', interval '179 minutes'),
          ('esp32_008',   '1.10.0',        'rolled_back', 100, 'server', interval '295 minutes'),
          ('esp32_008',   '1.10.0',        'success',     100, 'device', interval '47 hours 50 minutes'),
          ('esp8266_001', '2.1.0-beta.10', 'failed',        0, 'device', interval '71 hours 50 minutes'),
          ('esp32_004',   '1.11.0',        'failed',        0, 'device', interval '8 days')
        ) as v(device_id, version, status, progress, source, before_hour);
        """;
}
