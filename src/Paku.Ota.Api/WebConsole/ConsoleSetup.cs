using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.ViewFeatures;
using Paku.Ota.Api.Http;
using Paku.Ota.Api.Security;

namespace Paku.Ota.Api.WebConsole;

/// <summary>The operator's web console: server-rendered Razor Pages under /console on the admin
/// listener, calling the same use cases through the mediator as the admin API. Sign-in takes an admin
/// API key once; the session lives on the server (the cookie holds only its random id) and carries the
/// key's name and scope, never the key.</summary>
public static class ConsoleSetup
{
    public const string Scheme = "Console";
    public const string ReadPolicy = "console:read";
    public const string CookieName = "paku_console";
    public const string PathBase = "/console";

    public static IServiceCollection AddConsole(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(configuration.GetSection("Ota:Console").Get<ConsoleOptions>() ?? new ConsoleOptions());
        services.AddSingleton<ConsoleSessionStore>();
        services.AddHttpContextAccessor();
        services.AddScoped<ConsoleActions>();
        services.AddRazorPages(options =>
        {
            options.RootDirectory = "/WebConsole/Pages";
            options.Conventions.AuthorizeFolder("/", ReadPolicy);
            options.Conventions.AllowAnonymousToPage("/SignIn");
            options.Conventions.ConfigureFilter(new WriteScopeFilter());
            options.Conventions.ConfigureFilter(new AntiforgeryFailurePage());
        })
            // found by this assembly, not the entry one: a test host (or any other host) serves the same pages
            .AddApplicationPart(typeof(ConsoleSetup).Assembly);
        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "paku_console_af";
            options.Cookie.Path = PathBase;
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            options.FormFieldName = "__csrf";
        });
        services.AddAuthentication()
            .AddCookie(Scheme, options =>
            {
                options.Cookie.Name = CookieName;
                options.Cookie.Path = PathBase;
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Strict;
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.LoginPath = PathBase + "/sign-in";
                options.LogoutPath = PathBase + "/sign-out";
                options.AccessDeniedPath = PathBase + "/sign-in";
                options.ReturnUrlParameter = "return";
                options.ExpireTimeSpan = TimeSpan.FromHours(8);
                options.SlidingExpiration = true;
            });
        services.AddOptions<CookieAuthenticationOptions>(Scheme)
            .Configure<ConsoleSessionStore>((options, store) => options.SessionStore = store);
        services.AddAuthorizationBuilder().AddPolicy(ReadPolicy, policy => policy
            .AddAuthenticationSchemes(Scheme)
            .RequireAuthenticatedUser()
            .RequireClaim(AdminPolicies.ScopeClaim, "read", "write"));
        return services;
    }

    public static WebApplication MapConsole(this WebApplication app)
    {
        app.MapGet(PathBase + "/assets/{file}", ConsoleAssets.Serve).AllowAnonymous().AdminSurfaceOnly().ExcludeFromDescription();
        app.MapRazorPages().AdminSurfaceOnly().WithMetadata(new ConsolePage()).ExcludeFromDescription();
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<ConsolePage>() is not null)
            {
                // scripts and styles only from the console itself, no framing, no caching of fleet data
                var headers = context.Response.Headers;
                headers.ContentSecurityPolicy =
                    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "same-origin";
                headers.CacheControl = "no-store";
            }

            await next(context);
        });
        return app;
    }

    public static bool CanWrite(this ClaimsPrincipal user) => user.HasClaim(AdminPolicies.ScopeClaim, "write");

    /// <summary>Marks the console's pages, for the response headers that keep them safe in a browser.</summary>
    public sealed class ConsolePage;

    /// <summary>Every console form that changes something needs a key with write scope. Checked before
    /// the form is read (an authorization filter), so a read key cannot even make the server buffer an
    /// upload; sign-in and sign-out are the two forms any key may send.</summary>
    private sealed class WriteScopeFilter : IAsyncAuthorizationFilter
    {
        public Task OnAuthorizationAsync(AuthorizationFilterContext context)
        {
            var http = context.HttpContext;
            if (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method)
                || context.ActionDescriptor.EndpointMetadata.OfType<AnyScopeMayPostAttribute>().Any()
                || http.User.CanWrite())
            {
                return Task.CompletedTask;
            }

            context.Result = new ViewResultOfProblem(StatusCodes.Status403Forbidden, "Not allowed with a read key",
                $"You are signed in with the key '{http.User.Identity?.Name}', which has read scope: it can look at everything but change nothing. Sign in with a write key to act.");
            return Task.CompletedTask;
        }
    }

    /// <summary>A form whose antiforgery token is missing or stale (an old tab, a cookie cleared) gets a
    /// page that says so instead of an empty 400; so does a form that cannot be read at all (the token is
    /// then not found either), with what was wrong with it.</summary>
    private sealed class AntiforgeryFailurePage : IAsyncAlwaysRunResultFilter
    {
        public async Task OnResultExecutionAsync(ResultExecutingContext context, ResultExecutionDelegate next)
        {
            if (context.Result is Microsoft.AspNetCore.Mvc.Core.Infrastructure.IAntiforgeryValidationFailedResult)
            {
                context.Result = await UnreadableFormAsync(context.HttpContext.Request) is { } why
                    ? new ViewResultOfProblem(StatusCodes.Status400BadRequest, "The form could not be read",
                        $"{why} Nothing was changed.")
                    : new ViewResultOfProblem(StatusCodes.Status400BadRequest, "The form has expired",
                        "This form was not accepted because its security token is missing or out of date (an old tab, or you signed in again). Nothing was changed. Go back, reload the page and send it again.");
            }

            await next();
        }

        private static async Task<string?> UnreadableFormAsync(HttpRequest request)
        {
            if (!request.HasFormContentType)
            {
                return null;
            }

            try
            {
                await request.ReadFormAsync();
                return null;
            }
            catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException)
            {
                return e.Message;
            }
        }
    }
}

/// <summary>Lets a read key post a page's forms (sign-in, sign-out).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class AnyScopeMayPostAttribute : Attribute;

/// <summary>Console settings (<c>Ota:Console</c>).</summary>
public sealed class ConsoleOptions
{
    /// <summary>How often an open page refreshes its live figures.</summary>
    public double PollSeconds { get; set; } = 5;
}

/// <summary>A refusal shown as a console page (the shared Problem view) with its status code.</summary>
public sealed class ViewResultOfProblem(int status, string title, string detail) : IActionResult
{
    public async Task ExecuteResultAsync(ActionContext context)
    {
        var view = new ViewResult
        {
            ViewName = "Problem",
            StatusCode = status,
            ViewData = new ViewDataDictionary(new Microsoft.AspNetCore.Mvc.ModelBinding.EmptyModelMetadataProvider(), context.ModelState)
            {
                Model = new ProblemModel(title, detail),
            },
        };
        await view.ExecuteResultAsync(context);
    }
}

public sealed record ProblemModel(string Title, string Detail);
