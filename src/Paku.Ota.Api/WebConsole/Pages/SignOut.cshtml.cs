using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>Ends the session on the server (the cookie's id then opens nothing) and clears the cookie.</summary>
[AnyScopeMayPost]
public sealed class SignOutModel(ConsoleActions actions) : PageModel
{
    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync()
    {
        await actions.RecordAsync("console.sign_out", null, "succeeded", null);
        await HttpContext.SignOutAsync(ConsoleSetup.Scheme);
        return Redirect(ConsoleSetup.PathBase + "/sign-in");
    }
}
