using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Api.Security;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>Takes an admin API key once, checks it like the X-API-Key header, and opens a server-side
/// session that carries the key's name and scope. Every attempt is audited (console.sign_in).</summary>
[AnyScopeMayPost]
public sealed class SignInModel(ApiKeyRegistry keys, ConsoleActions actions) : PageModel
{
    private const int MaxKeyLength = 512;

    public string? Error { get; private set; }

    [BindProperty(Name = "return", SupportsGet = true)]
    public string? Return { get; set; }

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync([FromForm(Name = "key")] string? key)
    {
        var found = string.IsNullOrEmpty(key) || key.Length > MaxKeyLength ? null : keys.Find(key);
        if (found is not { } admin)
        {
            Error = string.IsNullOrEmpty(key) ? "Enter an API key." : "That is not a known API key. Nothing was signed in.";
            await actions.RecordAsync("console.sign_in", null, "refused (401)", Error, actor: "unauthenticated");
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page();
        }

        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, admin.Name), new Claim(AdminPolicies.ScopeClaim, admin.Scope)],
            ConsoleSetup.Scheme);
        await HttpContext.SignInAsync(ConsoleSetup.Scheme, new ClaimsPrincipal(identity), new AuthenticationProperties { IsPersistent = false });
        await actions.RecordAsync("console.sign_in", null, "succeeded", $"scope {admin.Scope}", actor: admin.Name);
        return LocalRedirect(IsConsolePath(Return) ? Return! : ConsoleSetup.PathBase);
    }

    /// <summary>Only a path inside the console is followed after sign-in, never another site.</summary>
    private static bool IsConsolePath(string? path) =>
        path is not null && path.StartsWith(ConsoleSetup.PathBase, StringComparison.Ordinal) && !path.StartsWith("//", StringComparison.Ordinal)
        && !path.Contains('\\', StringComparison.Ordinal) && Uri.IsWellFormedUriString(path, UriKind.Relative);
}
