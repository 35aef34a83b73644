using System.Net;
using System.Text;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>POST /api/admin/rollout/create: the seed's own curl examples, the rules, and bad input.</summary>
[NonParallelizable]
public sealed class RolloutCreateTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_rollouts");

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await AdminFixtures.ResetAsync(_db, _factory);
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.0.0");
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.2.0");
    }

    // The seed document's curl examples, with their bodies exactly as written there.
    private const string SeedSpecific = """
        {
            "name": "v1.0.0-test",
            "firmware_version": "1.0.0",
            "device_model": "esp32",
            "target_type": "specific",
            "target_filter": {"device_ids": ["esp32_001", "esp32_002"]},
            "is_active": true
          }
        """;

    private const string SeedCanary = """
        {
            "name": "v1.0.0-canary",
            "firmware_version": "1.0.0",
            "device_model": "esp32",
            "target_type": "canary",
            "rollout_percentage": 10,
            "is_active": true
          }
        """;

    private const string SeedAll = """
        {
            "name": "v1.0.0-production",
            "firmware_version": "1.0.0",
            "device_model": "esp32",
            "target_type": "all",
            "rollout_percentage": 100,
            "is_active": true
          }
        """;

    private const string SeedGroup = """
        {
            "name": "v1.0.0-warehouse-sensors",
            "firmware_version": "1.0.0",
            "device_model": "esp32",
            "target_type": "group",
            "target_filter": {"groups": ["location:warehouse", "function:sensor"]},
            "rollout_percentage": 100,
            "is_active": true
          }
        """;

    private const string SeedPhase1 = """
        {
            "name": "v1.2.0-warehouse-phase1",
            "firmware_version": "1.2.0",
            "device_model": "esp32",
            "target_type": "group",
            "target_filter": {"groups": ["location:warehouse"]},
            "rollout_percentage": 25,
            "is_active": true
          }
        """;

    private const string SeedPhase2Patch = """{"rollout_percentage": 100}""";

    /// <summary>A client that sends exactly the seed's headers: Content-Type and X-API-Key.</summary>
    private HttpClient SeedClient()
    {
        var client = _factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", AdminFixtures.SeedKey);
        return client;
    }

    [TestCase(SeedSpecific, "v1.0.0-test", "specific", 100)]
    [TestCase(SeedCanary, "v1.0.0-canary", "canary", 10)]
    [TestCase(SeedAll, "v1.0.0-production", "all", 100)]
    [TestCase(SeedGroup, "v1.0.0-warehouse-sensors", "group", 100)]
    [TestCase(SeedPhase1, "v1.2.0-warehouse-phase1", "group", 25)]
    public async Task The_seeds_create_examples_succeed_as_written(string body, string name, string targetType, int percentage)
    {
        using var client = SeedClient();

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", body);
        var rollout = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), rollout.ToString());
        Assert.That(response.Headers.Location?.ToString(), Is.EqualTo($"/api/admin/rollout/{name}"));
        Assert.That(rollout.GetProperty("name").GetString(), Is.EqualTo(name));
        Assert.That(rollout.GetProperty("target_type").GetString(), Is.EqualTo(targetType));
        Assert.That(rollout.GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(percentage));
        Assert.That(rollout.GetProperty("is_active").GetBoolean(), Is.True);
        Assert.That(rollout.GetProperty("state").GetString(), Is.EqualTo("active"));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts where name = @name", new { name }), Is.EqualTo(1));
    }

    [Test]
    public async Task The_seeds_phased_group_rollout_is_raised_by_its_patch_example()
    {
        using var client = SeedClient();
        var created = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", SeedPhase1);
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));

        var response = await client.SendJsonAsync(HttpMethod.Patch, "/api/admin/rollout/v1.2.0-warehouse-phase1", SeedPhase2Patch);
        var rollout = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), rollout.ToString());
        Assert.That(rollout.GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(100));
        Assert.That(await AdminFixtures.CountAsync(_db, "select rollout_percentage from rollouts where name = 'v1.2.0-warehouse-phase1'"), Is.EqualTo(100));
    }

    [Test]
    public async Task The_seed_examples_reach_the_devices_they_name()
    {
        using var client = SeedClient();
        foreach (var body in new[] { SeedSpecific, SeedGroup })
        {
            Assert.That((await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", body)).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        }

        var listed = await client.CheckAsync("esp32_001", "esp32", "0.9.0");
        var other = await client.CheckAsync("esp32_777", "esp32", "0.9.0");

        Assert.That(listed.GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That(listed.GetProperty("latest_version").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(listed.GetProperty("rollout").GetString(), Is.EqualTo("v1.0.0-test"));
        Assert.That(other.GetProperty("update_available").GetBoolean(), Is.False, "esp32_777 is listed nowhere and in no group");
    }

    [Test]
    public async Task Defaults_are_100_percent_active_no_downgrade_and_the_default_threshold()
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create",
            """{"name": "plain", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "all"}""");
        var rollout = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), rollout.ToString());
        Assert.That(rollout.GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(100));
        Assert.That(rollout.GetProperty("is_active").GetBoolean(), Is.True);
        Assert.That(rollout.GetProperty("allow_downgrade").GetBoolean(), Is.False);
        Assert.That(rollout.GetProperty("failure_threshold").GetProperty("percent").GetDecimal(), Is.EqualTo(5m));
        Assert.That(rollout.GetProperty("failure_threshold").GetProperty("minimum_attempts").GetInt32(), Is.EqualTo(20));
        Assert.That(rollout.GetProperty("target_filter").EnumerateObject().Count(), Is.Zero);
        Assert.That(rollout.GetProperty("created_by").GetString(), Is.EqualTo("test-writer"));
        Assert.That(rollout.GetProperty("progress").GetProperty("targeted").GetInt32(), Is.Zero);
    }

    [Test]
    public async Task A_leading_v_and_build_metadata_find_the_release_by_semver()
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create",
            """{"name": "from-ci", "firmware_version": "v1.2.0+build.7", "device_model": "esp32", "target_type": "all"}""");
        var rollout = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), rollout.ToString());
        Assert.That(rollout.GetProperty("firmware_version").GetString(), Is.EqualTo("1.2.0"), "the release's own version is stored");
    }

    [Test]
    public async Task Downgrade_permission_and_failure_threshold_are_stored()
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", """
            {"name": "back-to-1.0", "firmware_version": "1.0.0", "device_model": "esp32", "target_type": "canary",
             "rollout_percentage": 50, "allow_downgrade": true, "failure_threshold": {"percent": 2.5, "minimum_attempts": 40}}
            """);
        var rollout = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), rollout.ToString());
        Assert.That(rollout.GetProperty("allow_downgrade").GetBoolean(), Is.True);
        Assert.That(rollout.GetProperty("failure_threshold").GetProperty("percent").GetDecimal(), Is.EqualTo(2.5m));
        Assert.That(rollout.GetProperty("failure_threshold").GetProperty("minimum_attempts").GetInt32(), Is.EqualTo(40));
        Assert.That(await AdminFixtures.CountAsync(_db,
            "select count(*) from rollouts where allow_downgrade and failure_threshold_percent = 2.5 and failure_min_attempts = 40"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_rollout_created_inactive_is_paused_with_its_creator_named()
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create",
            """{"name": "staged", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "all", "is_active": false}""");
        var rollout = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(rollout.GetProperty("state").GetString(), Is.EqualTo("paused"));
        Assert.That(rollout.GetProperty("pause_reason").GetString(), Is.EqualTo("created paused by test-writer"));
        Assert.That((await _factory.CreateClient().CheckAsync("esp32_001", "esp32", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.False);
    }

    [Test]
    public async Task An_unknown_release_is_404_naming_version_and_model_and_writes_nothing()
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create",
            """{"name": "ghost", "firmware_version": "9.9.9", "device_model": "esp32", "target_type": "all"}""");
        var problem = await response.AssertProblemAsync(HttpStatusCode.NotFound);

        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("9.9.9").And.Contain("esp32"));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.Zero);
    }

    [Test]
    public async Task A_release_of_another_model_is_not_found()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp8266", "2.0.0");
        using var client = _factory.CreateAdminClient();

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create",
            """{"name": "wrong-model", "firmware_version": "2.0.0", "device_model": "esp32", "target_type": "all"}""");

        await response.AssertProblemAsync(HttpStatusCode.NotFound);
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.Zero);
    }

    [Test]
    public async Task A_withdrawn_release_is_refused_with_its_reason()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.3.0", withdrawnReason: "bricks rev-A boards");
        using var client = _factory.CreateAdminClient();

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create",
            """{"name": "withdrawn", "firmware_version": "1.3.0", "device_model": "esp32", "target_type": "all"}""");
        var problem = await response.AssertProblemAsync(HttpStatusCode.UnprocessableEntity);

        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("withdrawn").And.Contain("bricks rev-A boards"));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.Zero);
    }

    [Test]
    public async Task A_duplicate_name_is_409_and_the_first_rollout_is_unchanged()
    {
        using var client = _factory.CreateAdminClient();
        await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", SeedCanary);

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create",
            SeedCanary.Replace("\"canary\"", "\"all\"").Replace("10", "100"));
        var problem = await response.AssertProblemAsync(HttpStatusCode.Conflict);

        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("v1.0.0-canary"));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.EqualTo(1));
        Assert.That(await AdminFixtures.CountAsync(_db, "select rollout_percentage from rollouts"), Is.EqualTo(10));
    }

    private const string Valid = "\"name\": \"r1\", \"firmware_version\": \"1.2.0\", \"device_model\": \"esp32\"";

    /// <summary>A body with a valid name, version and model, and <paramref name="rest"/>.</summary>
    private static string With(string rest) => rest.Length == 0 ? "{" + Valid + "}" : "{" + Valid + ", " + rest + "}";

    /// <summary>Bad bodies, each with the field the answer must name.</summary>
    private static IEnumerable<TestCaseData> BadBodies()
    {
        TestCaseData Case(string body, string field, string why) => new TestCaseData(body, field).SetName($"Create_refuses {why}");

        yield return Case("""{"firmware_version": "1.2.0", "device_model": "esp32", "target_type": "all"}""", "name", "a missing name");
        yield return Case("""{"name": "has space", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "all"}""", "name", "a name with a space");
        yield return Case("""{"name": "r1", "device_model": "esp32", "target_type": "all"}""", "firmware_version", "a missing version");
        yield return Case("""{"name": "r1", "firmware_version": "1.2", "device_model": "esp32", "target_type": "all"}""", "firmware_version", "a version that is not semver");
        yield return Case("""{"name": "r1", "firmware_version": "1.2.0", "target_type": "all"}""", "device_model", "a missing model");
        yield return Case("""{"name": "r1", "firmware_version": "1.2.0", "device_model": "esp 32", "target_type": "all"}""", "device_model", "a model with a space");
        yield return Case(With(""), "target_type", "a missing target type");
        yield return Case(With(""" "target_type": "everyone" """), "target_type", "an unknown target type");
        yield return Case(With(""" "target_type": "specific" """), "target_filter.device_ids", "a specific rollout without device ids");
        yield return Case(With(""" "target_type": "specific", "target_filter": {"device_ids": []} """), "target_filter.device_ids", "a specific rollout with an empty list");
        yield return Case(With(""" "target_type": "specific", "target_filter": {"device_ids": ["ok", "no/slash"]} """), "target_filter.device_ids", "a bad device id");
        yield return Case(With(""" "target_type": "specific", "target_filter": {"device_ids": ["a"], "groups": ["g"]} """), "target_filter.groups", "groups on a specific rollout");
        yield return Case(With(""" "target_type": "group" """), "target_filter.groups", "a group rollout without groups");
        yield return Case(With(""" "target_type": "group", "target_filter": {"groups": ["bad group"]} """), "target_filter.groups", "a bad group name");
        yield return Case(With(""" "target_type": "all", "target_filter": {"groups": ["g"]} """), "target_filter.groups", "groups on an all rollout");
        yield return Case(With(""" "target_type": "canary", "target_filter": {"device_ids": ["a"]} """), "target_filter.device_ids", "device ids on a canary rollout");
        yield return Case(With(""" "target_type": "canary", "rollout_percentage": 101 """), "rollout_percentage", "101 percent");
        yield return Case(With(""" "target_type": "canary", "rollout_percentage": -1 """), "rollout_percentage", "minus 1 percent");
        yield return Case(With(""" "target_type": "canary", "rollout_percentage": "10" """), "rollout_percentage", "a percentage sent as a string");
        yield return Case(With(""" "target_type": "canary", "rollout_percentage": 10.5 """), "rollout_percentage", "a fractional percentage");
        yield return Case(With(""" "target_type": "all", "is_active": "yes" """), "is_active", "is_active as a string");
        yield return Case(With(""" "target_type": "all", "allow_downgrade": 1 """), "allow_downgrade", "allow_downgrade as a number");
        yield return Case(With(""" "target_type": 3 """), "target_type", "a numeric target type");
        yield return Case("""{"name": ["r1"], "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "all"}""", "name", "a name that is an array");
        yield return Case(With(""" "target_type": "group", "target_filter": ["g"] """), "target_filter", "a filter that is an array");
        yield return Case(With(""" "target_type": "group", "target_filter": {"groups": "g"} """), "target_filter.groups", "groups that are a string");
        yield return Case(With(""" "target_type": "group", "target_filter": {"groups": ["g", 7]} """), "target_filter.groups", "a group that is a number");
        yield return Case(With(""" "target_type": "group", "target_filter": {"groups": ["g"], "tags": ["x"]} """), "target_filter.tags", "an unknown filter field");
        yield return Case(With(""" "target_type": "all", "failure_threshold": {"percent": 0} """), "failure_threshold.percent", "a zero threshold");
        yield return Case(With(""" "target_type": "all", "failure_threshold": {"percent": 101} """), "failure_threshold.percent", "a threshold over 100");
        yield return Case(With(""" "target_type": "all", "failure_threshold": {"minimum_attempts": 0} """), "failure_threshold.minimum_attempts", "zero minimum attempts");
        yield return Case(With(""" "target_type": "all", "failure_threshold": {"percent": "5"} """), "failure_threshold.percent", "a threshold sent as a string");
        yield return Case(With(""" "target_type": "all", "failure_threshold": 5 """), "failure_threshold", "a threshold that is a number");
        yield return Case(With(""" "target_type": "all", "priority": 1 """), "priority", "an unknown field");
        yield return Case(With(""" "target_type": "all", "target_type": "canary" """), "target_type", "a repeated field");
        yield return Case("""{"name": "r1", "firmware_version": "1.2.0", """, "body", "malformed JSON");
        yield return Case("""[{"name": "r1"}]""", "body", "an array body");
        yield return Case("", "body", "an empty body");
        yield return Case("not json at all", "body", "plain text");
    }

    [TestCaseSource(nameof(BadBodies))]
    public async Task Create_refuses_bad_input_naming_the_field_and_writes_nothing(string body, string field)
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.Zero);
    }

    [Test]
    public async Task A_specific_rollout_may_list_10000_devices_but_not_10001()
    {
        using var client = _factory.CreateAdminClient();
        string Body(string name, int count) => JsonSerializer.Serialize(new
        {
            name,
            firmware_version = "1.2.0",
            device_model = "esp32",
            target_type = "specific",
            target_filter = new { device_ids = Enumerable.Range(0, count).Select(i => $"esp32_{i:D6}") },
        });

        var tooMany = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", Body("too-many", 10_001));
        var most = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", Body("most", 10_000));

        await tooMany.AssertProblemAsync(HttpStatusCode.BadRequest, "target_filter.device_ids");
        Assert.That(most.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.EqualTo(1));
    }

    [Test]
    public async Task An_oversized_body_is_413_and_writes_nothing()
    {
        using var client = _factory.CreateAdminClient();
        var padding = new string('x', 3 * 1024 * 1024);

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create",
            With("\"target_type\": \"all\", \"padding\": \"" + padding + "\""));

        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.Zero);
    }

    [Test]
    public async Task Creating_needs_a_key_and_write_scope()
    {
        using var anonymous = _factory.CreateClient();
        using var reader = _factory.CreateAdminClient(write: false);

        var withoutKey = await anonymous.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", SeedAll);
        var withReadKey = await reader.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", SeedAll);

        await withoutKey.AssertProblemAsync(HttpStatusCode.Unauthorized);
        await withReadKey.AssertProblemAsync(HttpStatusCode.Forbidden);
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.Zero);
    }

    [Test]
    public async Task Creating_and_refusing_are_both_audited_with_the_key_name()
    {
        using var client = _factory.CreateAdminClient();
        await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", SeedAll);
        await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", SeedAll);

        var audit = await (await client.GetAsync("/api/admin/audit?action=rollout.create")).JsonAsync();
        var entries = audit.GetProperty("entries").EnumerateArray().ToList();

        Assert.That(entries, Has.Count.EqualTo(2));
        Assert.That(entries.Select(e => e.GetProperty("actor").GetString()), Is.All.EqualTo("test-writer"));
        Assert.That(entries.Select(e => e.GetProperty("outcome").GetString()), Is.EqualTo(new[] { "refused (409)", "succeeded" }));
    }

    [Test]
    public async Task The_rollout_reads_back_by_name_and_in_the_list()
    {
        using var client = _factory.CreateAdminClient(write: true);
        await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", SeedSpecific);
        await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", SeedCanary);
        using var reader = _factory.CreateAdminClient(write: false);

        var one = await (await reader.GetAsync("/api/admin/rollout/v1.0.0-test")).JsonAsync();
        var list = await (await reader.GetAsync("/api/admin/rollouts")).JsonAsync();

        Assert.That(one.GetProperty("target_filter").GetProperty("device_ids").Strings(), Is.EqualTo(new[] { "esp32_001", "esp32_002" }));
        Assert.That(list.GetProperty("rollouts").EnumerateArray().Select(r => r.GetProperty("name").GetString()),
            Is.EqualTo(new[] { "v1.0.0-canary", "v1.0.0-test" }), "newest first");
    }

    [Test]
    public async Task Reading_an_unknown_rollout_is_404_and_a_bad_name_is_400()
    {
        using var reader = _factory.CreateAdminClient(write: false);

        await (await reader.GetAsync("/api/admin/rollout/nope")).AssertProblemAsync(HttpStatusCode.NotFound);
        await (await reader.GetAsync("/api/admin/rollout/b%20d")).AssertProblemAsync(HttpStatusCode.BadRequest, "name");
        await (await reader.GetAsync("/api/admin/rollouts?device_model=b%20d")).AssertProblemAsync(HttpStatusCode.BadRequest, "device_model");
        await (await _factory.CreateClient().GetAsync("/api/admin/rollouts")).AssertProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Test]
    public async Task A_non_json_content_type_body_is_still_read_as_json_or_refused_by_field()
    {
        using var client = _factory.CreateAdminClient();
        var content = new StringContent("name=r1&target_type=all", Encoding.UTF8, "application/x-www-form-urlencoded");

        var response = await client.PostAsync("/api/admin/rollout/create", content);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "body");
    }
}
